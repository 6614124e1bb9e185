//! The library's imports run one way: each top-level module of `src/` sits in a layer and uses
//! only modules of its own layer or lower ones, with no cycle between modules, nor between the
//! files of one directory (`super::` paths). Read from the source: every `crate::name` and
//! `super::name` path outside comments. Also: no file of `src/` is much over 300 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Lowest first. `main.rs` and `commands/` (the binary) may use anything.
const LAYERS: [&[&str]; 6] = [
    &["run_dir", "seed", "test_util", "dist", "host_memory"],
    &["checkpoint"],
    &["model", "data", "report"],
    &["train", "generate", "hf", "hellaswag"],
    &["run"],
    &["bench", "backend", "cli"],
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names that follow `prefix` (`crate::` or `super::`) in `text`, comments left out.
fn targets(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
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
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut modules: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inner: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string()).collect();
        let text = fs::read_to_string(file).expect("readable source");
        let lines = text.lines().count();
        if lines > 330 {
            problems.push(format!("{} has {lines} lines (keep files under about 300)", rel.display()));
        }
        if parts[0] == "main" || parts[0] == "commands" || parts[0] == "lib" {
            continue;
        }
        let module = parts[0].clone();
        for target in targets(&text, "crate::") {
            if target != module {
                modules.entry(module.clone()).or_default().insert(target);
            }
        }
        if parts.len() == 2 && parts[1] != "mod" {
            let here = format!("{module}/{}", parts[1]);
            for target in targets(&text, "super::") {
                if target != parts[1] {
                    inner.entry(here.clone()).or_default().insert(format!("{module}/{target}"));
                }
            }
        }
    }
    for (module, uses) in &modules {
        let Some(own) = layer_of(module) else {
            problems.push(format!("src/{module} is in no layer of tests/layers.rs"));
            continue;
        };
        for target in uses {
            match layer_of(target) {
                Some(layer) if layer > own => problems.push(format!("{module} (layer {own}) uses {target} (layer {layer})")),
                _ => {}
            }
        }
    }
    if let Some(found) = cycle(&modules) {
        problems.push(format!("import cycle: {}", found.join(" -> ")));
    }
    if let Some(found) = cycle(&inner) {
        problems.push(format!("import cycle inside a directory: {}", found.join(" -> ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
