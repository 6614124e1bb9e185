#!/usr/bin/env python3
"""Recomputes every value of docs/numeric-reference.md in float64 and checks it against the document.

    python3 docs/numeric_reference.py

Standard library only. Prints each value as computed beside the text the document writes for it. Exits 1
if a computed value, rounded to the documented number of places (or of significant digits, for values
written with an exponent), is not the documented text; if a figure the document marks "by hand" is, at its
own precision, the exact value after all; if a documented text is missing from the document; or if the
document holds a number with 6 or more significant digits that no check here covers.
"""

import hashlib
import math
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
DOC = HERE / "numeric-reference.md"
CORPUS = HERE.parent / "data" / "tinyshakespeare.txt"

CHECKS = []  # (section, label, documented text, computed value, True if it must match, False if it must not)
section = ""


def check(label, documented, value):
    """The document writes `value` as `documented`."""
    CHECKS.append((section, label, documented, value, True))


def by_hand(label, documented, value):
    """`documented` is a figure worked by hand from rounded intermediates: the exact `value`, written to the
    same precision, must be a different number (which is why the tests do not use the hand figure)."""
    CHECKS.append((section, label + ", by hand", documented, value, False))


def check_list(label, documented, values):
    documented = documented.strip("[]").split(", ")
    assert len(documented) == len(values), label
    for i, (text, value) in enumerate(zip(documented, values)):
        check(f"{label}[{i}]", text, value)


def rendered(documented, value):
    """`value` written the way `documented` is written: same decimals, or same significant digits."""
    if isinstance(value, str):
        return value
    text = documented.replace(",", "")
    if "e" in text:
        mantissa, exponent = text.split("e")
        places = len(mantissa.partition(".")[2])
        got_mantissa, got_exponent = f"{value:.{places}e}".split("e")
        return f"{got_mantissa}e{int(got_exponent)}"
    places = len(text.partition(".")[2])
    got = f"{value:.{places}f}"
    if float(got) == 0:
        got = got.lstrip("-")
    return got


def softmax(z):
    m = max(z)
    e = [math.exp(x - m) for x in z]
    s = sum(e)
    return [x / s for x in e]


def cross_entropy(z, y):
    m = max(z)
    return math.log(sum(math.exp(x - m) for x in z)) - (z[y] - m)


# ----------------------------------------------------------------------------------------------------------
section = "cross-entropy, one position"
z = [2.1, -0.5, 3.4, 0.2, -1.2, 1.8]
check_list("softmax", "[0.176341, 0.013097, 0.647046, 0.026375, 0.006504, 0.130636]", softmax(z))
check("loss", "0.435337299553698", cross_entropy(z, 2))
by_hand("loss", "0.43", cross_entropy(z, 2))
assert abs(-math.log(softmax(z)[2]) - cross_entropy(z, 2)) < 1e-15

# ----------------------------------------------------------------------------------------------------------
section = "cross-entropy, batch 1 x seq 2"
logits = [[1.5, 0.2, 2.1, -0.5], [0.8, 2.3, 0.1, -0.2]]
targets = [2, 1]
n = len(targets)
probs = [softmax(row) for row in logits]
losses = [cross_entropy(row, y) for row, y in zip(logits, targets)]
check_list("probs position 0", "[0.309598877, 0.084375537, 0.564125934, 0.041899652]", probs[0])
check_list("probs position 1", "[0.157575758, 0.706205554, 0.078249806, 0.057968882]", probs[1])
check("loss position 0", "0.572477764674273", losses[0])
check("loss position 1", "0.347848931017425", losses[1])
check("mean loss", "0.460163347845849", sum(losses) / n)
by_hand("loss position 0", "0.56", losses[0])
by_hand("loss position 1", "0.33", losses[1])
by_hand("mean loss", "0.45", sum(losses) / n)
grads = [[(p - (i == y)) / n for i, p in enumerate(row)] for row, y in zip(probs, targets)]
check_list("dL/dz position 0", "[0.154799438, 0.042187769, -0.217937033, 0.020949826]", grads[0])
check_list("dL/dz position 1", "[0.078787879, -0.146897223, 0.039124903, 0.028984441]", grads[1])

# ----------------------------------------------------------------------------------------------------------
section = "AdamW, one parameter, first step"
w, g, lr, beta1, beta2, eps, wd, t = 0.5, 0.2, 3e-4, 0.9, 0.999, 1e-8, 0.01, 1
m = beta1 * 0.0 + (1 - beta1) * g
v = beta2 * 0.0 + (1 - beta2) * g * g
m_hat = m / (1 - beta1**t)
v_hat = v / (1 - beta2**t)
s = lr * m_hat / (math.sqrt(v_hat) + eps)
decay_first = w * (1 - lr * wd) - s
decay_after = (w - s) * (1 - lr * wd)
check("m", "0.02", m)
check("v", "4e-5", v)
check("m_hat", "0.2", m_hat)
check("v_hat", "0.04", v_hat)
check("Adam step", "2.99999985e-4", s)
check("w_new, decay of the pre-update weight", "0.499698500015", decay_first)
check("w_new, decay after the update", "0.499698500915", decay_after)
check("difference lr * wd * s", "8.99999955e-10", lr * wd * s)
assert abs((decay_after - decay_first) - lr * wd * s) < 1e-15
check("difference, rounded", "9e-10", decay_after - decay_first)
check("decay first, to 4 places", "0.4997", decay_first)
check("decay after, to 4 places", "0.4997", decay_after)
check("w_new, not decayed", "0.499700000015", w - s)

# ----------------------------------------------------------------------------------------------------------
section = "learning rate, warmup + cosine"
lr_max, t_w, total, lr_min = 3e-4, 100, 1000, 0.0


def lr_at(step):
    if step < t_w:
        return lr_max * step / t_w
    q = (step - t_w) / (total - t_w)
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * q)) / 2


for step, documented in [
    (0, "0"),
    (50, "1.5e-4"),
    (100, "3.0e-4"),
    (150, "2.97721162951831e-4"),
    (500, "1.76047226650040e-4"),
    (900, "9.04610688211375e-6"),
    (1000, "0"),
]:
    check(f"lr({step})", documented, lr_at(step))
by_hand("lr(500)", "1.75e-4", lr_at(500))
by_hand("lr(900)", "1.1e-5", lr_at(900))

# ----------------------------------------------------------------------------------------------------------
section = "gradient clipping"


def clip(tensors, max_norm):
    norm = math.sqrt(sum(x * x for tensor in tensors for x in tensor))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [[x * scale for x in tensor] for tensor in tensors], norm


(g1, g2), norm = clip([[3.0, 0.0], [0.0, 4.0]], 1.0)
check("total_norm", "5", norm)
check_list("clipped g1", "[0.6, 0]", g1)
check_list("clipped g2", "[0, 0.8]", g2)
check("norm after clipping", "1", math.sqrt(sum(x * x for x in g1 + g2)))
(g1, g2), norm = clip([[0.3, 0.0], [0.0, 0.4]], 1.0)
check("total_norm, gradients times 0.1", "0.5", norm)
assert (g1, g2) == ([0.3, 0.0], [0.0, 0.4]), "gradients below max_norm must be unchanged"

# ----------------------------------------------------------------------------------------------------------
section = "corpus data/tinyshakespeare.txt"
raw = CORPUS.read_bytes()
text = raw.decode("utf-8")
train = math.floor(0.9 * len(text))
check("bytes", "1,115,394", len(raw))
check("characters", "1,115,394", len(text))
assert text.isascii(), "the corpus is not all ASCII"
check("distinct characters", "65", len(set(text)))
check("sha256", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", hashlib.sha256(raw).hexdigest())
check("train characters", "1,003,854", train)
check("val characters", "111,540", len(text) - train)


# ----------------------------------------------------------------------------------------------------------
def significant_digits(number):
    digits = number.replace(",", "").replace("-", "").split("e")[0].replace(".", "")
    return len(digits.lstrip("0"))


def main():
    doc = DOC.read_text(encoding="utf-8")
    failures = 0
    current = None
    for sec, label, documented, value, must_match in CHECKS:
        if sec != current:
            print(f"\n== {sec}")
            current = sec
        got = rendered(documented, value)
        same = got == documented.replace(",", "")
        if same != must_match:
            status = "DIFFERS" if must_match else "HAND FIGURE IS EXACT"
        else:
            status = "ok" if documented in doc else "MISSING FROM DOCUMENT"
        failures += status != "ok"
        shown = documented if isinstance(value, str) else f"{value!r}"
        relation = "documented" if must_match else "by hand   "
        print(f"  {label:40} {shown:>24}  {relation} {documented:>19}  {status}")

    # Every long number in the document must be one of the values checked above.
    covered = {documented for _, _, documented, _, _ in CHECKS}
    prose = re.sub(r"\b[0-9a-f]{64}\b", "", doc)  # the sha256, checked as a string
    for number in re.findall(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:e-?\d+)?", prose):
        if significant_digits(number) >= 6 and number not in covered:
            print(f"  the document's {number} is not checked by this script")
            failures += 1

    print(f"\n{len(CHECKS)} values checked against {DOC.name}: {failures} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
