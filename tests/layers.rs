//! The library's imports run one way: each top-level module of `src/` sits in a layer and uses
//! only modules of its own layer or lower ones, with no cycle between modules, nor inside any
//! directory. Also: no source file of `src/` or `crates/burngpt-ops/src/` is much over 300 lines,
//! and `crates/burngpt-ops/src/` has no cycle either.
//!
//! Read from the source: every `crate::`, `super::` and `self::` path outside comments and
//! strings, grouped imports included ([`source_paths`]).
//!
//! Granularity: in every directory (the crate root included), each child (a file, or a
//! subdirectory as a whole) is one node. A path from a file to another module adds one edge, in
//! the deepest directory holding both, between the two children that hold them:
//! `data/prepare/encode.rs` using `crate::data::tokens::TokenFile` gives `data/prepare ->
//! data/tokens`, using `super::progress` gives `data/prepare/encode -> data/prepare/progress`,
//! `train/learner.rs` using `crate::model::Gpt` gives `train -> model`. A path through a
//! re-export (`crate::data::Batch`) names no child module and adds no edge; import the defining
//! module's path where an edge matters.

#[path = "layers/source_paths.rs"]
mod source_paths;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use source_paths::paths;

/// Lowest first. `main.rs` and `commands/` (the binary) may use anything.
const LAYERS: [&[&str]; 6] = [
    &["run_dir", "seed", "test_util", "dist", "host_memory", "console"],
    &["checkpoint"],
    &["model", "data", "report"],
    &["train", "generate", "hf", "hellaswag"],
    &["run"],
    &["bench", "backend", "cli"],
];

/// The most lines a source file may have (about 300, with some slack).
const MAX_LINES: usize = 330;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("source directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module of a source file below its crate root: `data/prepare/encode.rs` is
/// `["data", "prepare", "encode"]`, `data/mod.rs` is `["data"]`, `lib.rs` is `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The import graph of the crate whose root is `root` (edges between the children of each
/// directory, named by their paths `data/prepare`), the files the binary holds (`main.rs`,
/// `commands/`) left out; and every file over [`MAX_LINES`].
fn graph(root: &Path, problems: &mut Vec<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    sources(root, &mut files);
    let mut texts = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root).expect("under the root");
        let text = fs::read_to_string(file).expect("readable source");
        let lines = text.lines().count();
        if lines > MAX_LINES {
            problems.push(format!("{} has {lines} lines (keep files under about 300)", file.display()));
        }
        if rel.starts_with("main.rs") || rel.starts_with("commands") {
            continue;
        }
        texts.push((module_of(rel), text));
    }
    let known: BTreeSet<Vec<String>> = texts.iter().flat_map(|(m, _)| (1..=m.len()).map(|n| m[..n].to_vec())).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &texts {
        for target in paths(text, module) {
            let common = module.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < module.len() && common < target.len() && known.contains(&target[..=common]) {
                edges.entry(module[..=common].join("/")).or_default().insert(target[..=common].join("/"));
            }
        }
    }
    edges
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// A cycle in `graph`, if any, as the list of its nodes.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, stack, done) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn imports_run_one_way_and_files_stay_small() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = manifest.join("src");
    let mut problems = Vec::new();
    let edges = graph(&src, &mut problems);
    for entry in fs::read_dir(&src).expect("src is readable") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().expect("a name").to_string_lossy().into_owned();
        if !["main", "lib", "commands"].contains(&name.as_str()) && layer_of(&name).is_none() {
            problems.push(format!("src/{name} is in no layer of tests/layers.rs"));
        }
    }
    for (module, uses) in edges.iter().filter(|(m, _)| !m.contains('/')) {
        let own = layer_of(module).unwrap_or(0);
        for target in uses {
            match layer_of(target) {
                Some(layer) if layer > own => problems.push(format!("{module} (layer {own}) uses {target} (layer {layer})")),
                _ => {}
            }
        }
    }
    if let Some(found) = cycle(&edges) {
        problems.push(format!("import cycle in src/: {}", found.join(" -> ")));
    }
    let ops = manifest.join("crates/burngpt-ops/src");
    if let Some(found) = cycle(&graph(&ops, &mut problems)) {
        problems.push(format!("import cycle in crates/burngpt-ops/src/: {}", found.join(" -> ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `data/prepare/encode.rs` using `crate::data::tokens` and `data/tokens.rs` using
/// `super::prepare::encode` is a cycle between `data/prepare` and `data/tokens`.
#[test]
fn a_cycle_through_a_subdirectory_is_found() {
    let root = std::env::temp_dir().join(format!("burngpt-layers-{}", std::process::id()));
    let files = [
        ("lib.rs", "pub mod data;"),
        ("data/mod.rs", "mod prepare;\nmod tokens;"),
        ("data/tokens.rs", "use super::prepare::encode::Encoder;"),
        ("data/prepare/mod.rs", "mod encode;"),
        ("data/prepare/encode.rs", "use crate::data::tokens::TokenFile;"),
    ];
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("temp dir");
        fs::write(&path, text).expect("write");
    }
    let edges = graph(&root, &mut Vec::new());
    fs::remove_dir_all(&root).expect("clean up");
    assert_eq!(edges.get("data/prepare").map(|e| e.iter().map(String::as_str).collect::<Vec<_>>()), Some(vec!["data/tokens"]));
    assert_eq!(cycle(&edges).map(|c| c.join(" -> ")), Some("data/prepare -> data/tokens -> data/prepare".to_string()));
}
