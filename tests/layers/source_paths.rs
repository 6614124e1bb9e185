//! The module paths a Rust source file names, read from its text: every path that starts with
//! `crate::`, `super::` or `self::` outside comments and string literals, grouped imports
//! included (`use crate::{a::x, b::{y, z}}` names `a::x`, `b::y` and `b::z`), each resolved to a
//! path from the crate root (`super::` from the module it is written in: an inline
//! `mod tests { .. }` is a module of its own). Paths without such a prefix (`pub use batch::Batch`
//! in a `mod.rs`) are not read. Used by tests/layers.rs.

/// `text` with comments and the contents of string and character literals left out (newlines
/// kept).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, next) = (chars[i], chars.get(i + 1).copied());
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_char(i.checked_sub(1).map(|p| chars[p])) {
            // A raw string r"..." or r#"..."#: ends at a quote followed by as many #.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            i += hashes + 2;
            while i < chars.len() && !(chars[i] == '"' && chars[i + 1..].iter().take(hashes).filter(|&&h| h == '#').count() == hashes) {
                i += 1;
            }
            i += 1 + hashes;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('\\') {
            i += 3;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
            i += 3;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// Reads the use tree that starts at `chars[*at]` below `prefix`, appending every path it names:
/// `a::{b, c::{d, self}}` gives `a::b`, `a::c::d` and `a::c`. Stops at the first character that
/// cannot continue the tree.
fn use_tree(chars: &[char], at: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_space = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    loop {
        skip_space(at);
        match chars.get(*at) {
            Some('{') => {
                *at += 1;
                loop {
                    skip_space(at);
                    if chars.get(*at) == Some(&'}') {
                        *at += 1;
                        return;
                    }
                    let before = *at;
                    use_tree(chars, at, prefix.clone(), out);
                    skip_space(at);
                    match chars.get(*at) {
                        Some(',') => *at += 1,
                        Some('}') => {
                            *at += 1;
                            return;
                        }
                        _ if *at == before => return,
                        _ => {}
                    }
                }
            }
            Some('*') => {
                *at += 1;
                out.push(prefix);
                return;
            }
            _ => {}
        }
        let start = *at;
        while ident_char(chars.get(*at).copied()) {
            *at += 1;
        }
        let name: String = chars[start..*at].iter().collect();
        if name.is_empty() {
            out.push(prefix);
            return;
        }
        if name != "self" || prefix.is_empty() {
            prefix.push(name);
        }
        skip_space(at);
        if chars.get(*at) == Some(&':') && chars.get(*at + 1) == Some(&':') {
            *at += 2;
            continue;
        }
        // `name as other`: the other name is no path.
        if chars.get(*at..*at + 2) == Some(&['a', 's'][..]) && !ident_char(chars.get(*at + 2).copied()) {
            *at += 2;
            skip_space(at);
            while ident_char(chars.get(*at).copied()) {
                *at += 1;
            }
        }
        out.push(prefix);
        return;
    }
}

/// Every `crate::`, `super::` and `self::` path in the code of a file whose module is `module`
/// (`["data", "prepare", "encode"]`), resolved to a path from the crate root. An inline module
/// (`mod tests { .. }`) is below the file's module.
pub fn paths(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let code = code_only(text);
    let chars: Vec<char> = code.chars().collect();
    // The inline modules: where each one's body starts and ends, and its name.
    let mut inline = Vec::new();
    let mut opened: Vec<Option<(usize, String)>> = Vec::new();
    let mut last_words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if ident_char(Some(c)) {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            last_words.push(std::mem::take(&mut word));
        }
        match c {
            '{' => {
                let n = last_words.len();
                let name = (n >= 2 && last_words[n - 2] == "mod").then(|| last_words[n - 1].clone());
                opened.push(name.map(|name| (i, name)));
                last_words.clear();
            }
            '}' => {
                if let Some(Some((start, name))) = opened.pop() {
                    inline.push((start, i, name));
                }
                last_words.clear();
            }
            c if c.is_whitespace() => {}
            _ => last_words.clear(),
        }
    }
    let mut found = Vec::new();
    for at in 0..chars.len() {
        let before = at.checked_sub(1).map(|p| chars[p]);
        if ident_char(before) || (before == Some(':') && at >= 2 && chars[at - 2] == ':') {
            continue;
        }
        let rest: String = chars[at..chars.len().min(at + 7)].iter().collect();
        if !(rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::")) {
            continue;
        }
        let mut here = module.to_vec();
        let mut enclosing: Vec<&(usize, usize, String)> = inline.iter().filter(|(s, e, _)| *s < at && at < *e).collect();
        enclosing.sort();
        here.extend(enclosing.iter().map(|(_, _, name)| name.clone()));
        let mut named = Vec::new();
        use_tree(&chars, &mut at.clone(), Vec::new(), &mut named);
        for path in named {
            let mut segments = path.into_iter().peekable();
            let mut resolved = match segments.peek().map(String::as_str) {
                Some("crate") => {
                    segments.next();
                    Vec::new()
                }
                _ => here.clone(),
            };
            while let Some(segment) = segments.next_if(|s| s == "super" || s == "self") {
                if segment == "super" {
                    resolved.pop();
                }
            }
            resolved.extend(segments);
            found.push(resolved);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::paths;

    fn strings(paths: Vec<Vec<String>>) -> Vec<String> {
        paths.into_iter().map(|p| p.join("::")).collect()
    }

    fn module(path: &str) -> Vec<String> {
        path.split('/').map(str::to_string).collect()
    }

    #[test]
    fn grouped_and_nested_imports_are_read() {
        let text = "use crate::{data::Batch, model::{self, Gpt, attention::{Attention}}};\nuse crate::seed::*;";
        assert_eq!(
            strings(paths(text, &module("train/learner"))),
            ["data::Batch", "model", "model::Gpt", "model::attention::Attention", "seed"]
        );
    }

    #[test]
    fn a_group_over_several_lines_and_paths_in_code_are_read() {
        let text = "use super::{\n    tokens::TokenFile,\n    shards as s,\n};\nfn f() { let x = crate::hf::load_weights::<B>(m); super::super::seed::derive(1); }";
        assert_eq!(
            strings(paths(text, &module("data/prepare/encode"))),
            ["data::prepare::tokens::TokenFile", "data::prepare::shards", "hf::load_weights", "data::seed::derive"]
        );
    }

    #[test]
    fn comments_and_strings_are_not_read() {
        let text = "// use crate::model::Gpt;\n/* crate::train::x /* nested */ crate::run::y */\n/// [`crate::data`]\n\
                    let s = \"crate::hf::x // \\\" crate::run\"; let r = r#\"crate::bench\"#; let c = '\"';\nuse crate::seed::derive;";
        assert_eq!(strings(paths(text, &module("model/gpt"))), ["seed::derive"]);
    }

    #[test]
    fn super_in_an_inline_module_is_the_file() {
        let text = "use super::tokens::TokenFile;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::batch::Batch;\n}";
        assert_eq!(
            strings(paths(text, &module("data/shards"))),
            ["data::tokens::TokenFile", "data::shards", "data::batch::Batch"]
        );
    }
}
