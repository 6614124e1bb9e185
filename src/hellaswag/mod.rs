//! HellaSwag, scored as llm.c's `dev/data/hellaswag.py` does ("completion style"): each of an
//! example's four endings is appended to the context, and the model's cross-entropy over the
//! ending's tokens decides. `acc` takes the ending with the smallest summed loss, `acc_norm` the
//! one with the smallest loss per token. The validation file is
//! <https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl>
//! (10,042 examples); OpenAI's GPT-2 124M scores acc 0.2859, acc_norm 0.2955 this way.

mod example;
mod render;
mod score;
mod scorer;

pub use example::{read_examples, Example};
pub use render::{render, render_examples, Candidate, Rendered};
pub use score::{ending_loss, predict, EndingLoss, Scored, Summary};
pub use scorer::{example_batches, score_batch, score_examples};
