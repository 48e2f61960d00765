//! No import cycles between source files: every `.rs` file under `src/` and `crates/*/src/` is a
//! node, every reference from one file to another is an edge, and the graph must be acyclic.
//!
//! A file's module path follows the layout `foo.rs` + `foo/bar.rs` (a `foo/mod.rs` is read as
//! `foo`; a `#[cfg(test)] mod tests;` file `foo/tests.rs` is the child `foo::tests`); each crate's
//! `src` is its own module tree with its own `crate::`. The references read are the paths starting
//! with `crate::` (or `$crate::`) and `super::`, in `use` items (grouped ones included:
//! `use crate::{a::{b, c}, d}`) and inline in code. Comments (doc comments and their intra-doc
//! links included) and string literals are not code. Inside an inline `mod tests { .. }`, `super`
//! is the file's own module. Each path resolves to the deepest existing file module
//! (`crate::hooks::registry::Tables` -> `src/hooks/registry.rs`, `crate::hooks::Tables` ->
//! `src/hooks.rs`, `crate::HiveError` -> `src/lib.rs`). Every such edge between two distinct files
//! counts, a child's `super::X` to its parent included. Not collected: the `mod child;`
//! declarations, and paths relative to the current module (`child::x`, `self::child::x`), which
//! only reach the file's own descendants: they are how a parent is assembled from its children.
//!
//! A cycle fails the test with its files and, for each step, the line that makes it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Left out of the scan: nothing. A path here would exclude `<path>.rs` and everything under
/// `<path>/`, and references to excluded files would be dropped.
const EXCLUDED_FROM_SCAN: &[&str] = &[];

/// One module tree: the files of one crate's `src`, by module path.
struct Tree {
    /// module path (`["hooks", "registry"]`) -> file, relative to the package root.
    files: BTreeMap<Vec<String>, PathBuf>,
}

/// One reference from a file to another.
#[derive(Debug, Clone)]
struct Edge {
    to: PathBuf,
    line: usize,
    path: String,
}

#[test]
fn source_files_have_no_import_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = scan_package(root, EXCLUDED_FROM_SCAN);
    assert!(
        graph.len() > 50,
        "the scan found only {} files under src/ and crates/*/src/",
        graph.len()
    );
    let report = cycles_report(&graph);
    assert!(report.is_empty(), "import cycles between files:\n{report}");
}

/// The scanner finds a planted cycle (so the real test can fail) and reads the path forms it
/// documents.
#[test]
fn a_planted_cycle_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let put = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(
        "src/lib.rs",
        "//! Root.\npub mod a;\npub mod b;\npub mod c;\npub mod skip;\npub struct R;\n",
    );
    // a -> b through a grouped use; comments and strings mention c but are not code; `super` in
    // the inline test module is a itself.
    put(
        "src/a.rs",
        "//! A. See [`crate::c`].\nuse crate::{b::{self, X}};\n/* crate::c::Z */\nconst S: &str = \"crate::c\";\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    // b -> c inline in code; b calling its child b/inner.rs by a relative path is no edge, the
    // child's `super::X` is one.
    put(
        "src/b.rs",
        "//! B.\nmod inner;\npub struct X;\npub struct Y;\nfn f() { let _ = crate::c::make(); inner::g(); self::inner::g(); }\n",
    );
    put(
        "src/b/inner.rs",
        "//! Inner.\npub(crate) fn g() { let _ = super::X; }\n",
    );
    // c -> a closes the cycle through `super::`; c -> lib.rs (`R` is an item of the root).
    put(
        "src/c.rs",
        "//! C.\nuse super::a as alias;\nuse crate::R;\npub fn make() {}\n",
    );
    // Excluded from the scan, and its edges with it.
    put("src/skip.rs", "//! Skipped.\nuse crate::a::S;\n");
    // Another crate: its own `crate::`.
    put("crates/k/src/lib.rs", "//! K.\npub mod m;\npub mod n;\n");
    put("crates/k/src/m.rs", "//! M.\nuse crate::n::Z;\n");
    put("crates/k/src/n.rs", "//! N.\npub struct Z;\n");
    let graph = scan_package(dir.path(), &["src/skip"]);
    let edges = |from: &str| -> BTreeSet<String> {
        graph[Path::new(from)]
            .iter()
            .map(|e| e.to.display().to_string())
            .collect()
    };
    let set = |v: &[&str]| -> BTreeSet<String> { v.iter().map(|s| s.to_string()).collect() };
    assert_eq!(edges("src/a.rs"), set(&["src/b.rs"]));
    assert_eq!(edges("src/b.rs"), set(&["src/c.rs"]));
    assert_eq!(edges("src/b/inner.rs"), set(&["src/b.rs"]));
    assert_eq!(edges("src/c.rs"), set(&["src/a.rs", "src/lib.rs"]));
    assert_eq!(edges("crates/k/src/m.rs"), set(&["crates/k/src/n.rs"]));
    assert!(!graph.contains_key(Path::new("src/skip.rs")));
    let report = cycles_report(&graph);
    assert!(
        report.starts_with("cycle among 3 files: src/a.rs, src/b.rs, src/c.rs\n"),
        "{report}"
    );
    assert_eq!(report.lines().count(), 4, "{report}");

    // Break it: no report.
    put("src/c.rs", "//! C.\npub fn make() {}\n");
    assert_eq!(cycles_report(&scan_package(dir.path(), &["src/skip"])), "");
}

/// file -> its edges, for every scanned file of the package at `root`.
fn scan_package(root: &Path, excluded: &[&str]) -> BTreeMap<PathBuf, Vec<Edge>> {
    let mut src_dirs = vec![PathBuf::from("src")];
    if let Ok(rd) = std::fs::read_dir(root.join("crates")) {
        let mut crates: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| Path::new("crates").join(e.file_name()).join("src"))
            .filter(|p| root.join(p).is_dir())
            .collect();
        crates.sort();
        src_dirs.extend(crates);
    }
    let is_excluded = |rel: &Path| {
        let s = rel.to_string_lossy().replace('\\', "/");
        excluded
            .iter()
            .any(|x| s == format!("{x}.rs") || s.starts_with(&format!("{x}/")))
    };
    let mut graph = BTreeMap::new();
    for src in src_dirs {
        let tree = module_tree(root, &src, &is_excluded);
        for (module, file) in &tree.files {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let mut edges: Vec<Edge> = references(&text, module, &tree)
                .into_iter()
                .filter(|e| &e.to != file)
                .collect();
            edges.sort_by(|a, b| (&a.to, a.line).cmp(&(&b.to, b.line)));
            graph.insert(file.clone(), edges);
        }
    }
    graph
}

/// The module tree of one crate's `src` directory (`src` relative to `root`).
fn module_tree(root: &Path, src: &Path, is_excluded: &dyn Fn(&Path) -> bool) -> Tree {
    let mut all = Vec::new();
    walk(&root.join(src), &mut all);
    let has_lib = root.join(src).join("lib.rs").is_file();
    let mut files = BTreeMap::new();
    for abs in all {
        let rel_src = abs.strip_prefix(root.join(src)).unwrap().to_path_buf();
        let rel = src.join(&rel_src);
        if is_excluded(&rel) {
            continue;
        }
        let parts: Vec<String> = rel_src
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // `src/bin/*` and a `main.rs` beside a `lib.rs` are other crates (binaries that use the
        // library by its name, never by `crate::`).
        if parts.first().is_some_and(|p| p == "bin") && parts.len() > 1 {
            continue;
        }
        let module: Vec<String> = match parts.as_slice() {
            [only] if only == "lib" => vec![],
            [only] if only == "main" => {
                if has_lib {
                    continue;
                }
                vec![]
            }
            [dirs @ .., last] if last == "mod" => dirs.to_vec(),
            _ => parts,
        };
        files.insert(module, rel);
    }
    Tree { files }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A token of code: an identifier (or keyword, `$crate`), `::`, or one punctuation character.
#[derive(Debug, Clone, PartialEq)]
struct Tok {
    text: String,
    line: usize,
}

/// Every reference of a file (its module path is `module`) to a file of `tree`.
fn references(text: &str, module: &[String], tree: &Tree) -> Vec<Edge> {
    let toks = tokens(&strip(text));
    let mut out = Vec::new();
    // Inline modules open in this file: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    let is = |i: usize, s: &str| toks.get(i).is_some_and(|t| t.text == s);
    while i < toks.len() {
        let t = &toks[i].text;
        let ctx: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        match t.as_str() {
            "{" => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
                i += 1;
            }
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            ";" => {
                pending_mod = None;
                i += 1;
            }
            "mod" if toks.get(i + 1).is_some_and(|t| is_ident(&t.text)) => {
                pending_mod = Some(toks[i + 1].text.clone());
                i += 2;
            }
            "use" if !is(i + 1, "<") => {
                let line = toks[i].line;
                let mut j = i + 1;
                let mut paths = Vec::new();
                use_tree(&toks, &mut j, Vec::new(), &mut paths);
                for p in paths {
                    if let Some(to) = resolve(&p, &ctx, tree) {
                        out.push(Edge {
                            to,
                            line,
                            path: p.join("::"),
                        });
                    }
                }
                while j < toks.len() && toks[j].text != ";" {
                    j += 1;
                }
                i = j;
            }
            "crate" | "$crate" | "super"
                if is(i + 1, "::")
                    && !(i > 0 && matches!(toks[i - 1].text.as_str(), "::" | "." | "in")) =>
            {
                let line = toks[i].line;
                let mut segs = vec![t.clone()];
                let mut j = i + 1;
                while is(j, "::") && toks.get(j + 1).is_some_and(|t| is_ident(&t.text)) {
                    segs.push(toks[j + 1].text.clone());
                    j += 2;
                }
                if let Some(to) = resolve(&segs, &ctx, tree) {
                    out.push(Edge {
                        to,
                        line,
                        path: segs.join("::"),
                    });
                }
                i = j.max(i + 1);
            }
            _ => i += 1,
        }
    }
    out
}

/// Read one use tree at `*i`, appending every full path it names (a glob names its module).
fn use_tree(toks: &[Tok], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut segs = prefix;
    while let Some(t) = toks.get(*i) {
        match t.text.as_str() {
            "::" => *i += 1,
            "{" => {
                *i += 1;
                while toks.get(*i).is_some_and(|t| t.text != "}") {
                    let before = *i;
                    use_tree(toks, i, segs.clone(), out);
                    if toks.get(*i).is_some_and(|t| t.text == ",") {
                        *i += 1;
                    }
                    if *i == before {
                        *i += 1; // malformed: never loop
                    }
                }
                *i += 1;
                return;
            }
            "*" => {
                *i += 1;
                out.push(segs);
                return;
            }
            s if is_ident(s) => {
                // `a::{self, b}` names `a` itself.
                if s != "self" || segs.is_empty() {
                    segs.push(s.to_string());
                }
                *i += 1;
                if toks.get(*i).is_some_and(|t| t.text == "::") {
                    continue;
                }
                if toks.get(*i).is_some_and(|t| t.text == "as") {
                    *i += 2;
                }
                out.push(segs);
                return;
            }
            _ => return,
        }
    }
}

/// The file a path names, from a file whose module (inline modules included) is `ctx`; None for
/// paths outside the tree (extern crates, std, locals).
fn resolve(path: &[String], ctx: &[String], tree: &Tree) -> Option<PathBuf> {
    let (first, rest) = path.split_first()?;
    let (mut base, rest): (Vec<String>, &[String]) = match first.as_str() {
        "crate" | "$crate" => (vec![], rest),
        "super" => {
            let mut b = ctx.to_vec();
            b.pop()?;
            let mut rest = rest;
            while rest.first().is_some_and(|s| s == "super") {
                b.pop()?;
                rest = &rest[1..];
            }
            (b, rest)
        }
        _ => return None,
    };
    for seg in rest {
        base.push(seg.clone());
        if !tree.files.contains_key(&base) {
            base.pop();
            break;
        }
    }
    // The deepest file at or above `base` (an inline module lives in its file).
    loop {
        if let Some(f) = tree.files.get(&base) {
            return Some(f.clone());
        }
        base.pop()?;
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    match c.next() {
        Some('$') => s == "$crate",
        Some(f) if f.is_alphabetic() || f == '_' => c.all(|c| c.is_alphanumeric() || c == '_'),
        _ => false,
    }
}

/// The text with comments and string/char literals blanked (newlines kept).
fn strip(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let ident_char = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident_char(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut nest = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    nest += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    out.push_str("  ");
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if !prev_ident && raw_string_start(&c, i).is_some() {
            let (open, hashes) = raw_string_start(&c, i).unwrap_or((0, 0));
            for _ in 0..open {
                out.push(' ');
            }
            i += open;
            while i < c.len() {
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && c.get(i + 1) == Some(&'\\') {
            // An escaped char literal: '\n', '\'', '\u{..}'.
            out.push_str("  ");
            i += 2;
            while i < c.len() {
                let end = c[i] == '\'';
                out.push(' ');
                i += 1;
                if end {
                    break;
                }
            }
        } else if c[i] == '\'' && c.get(i + 2) == Some(&'\'') {
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// At a raw string (`r"`, `r#"`, `br#"`, `cr"`): (length of the opening, number of `#`).
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if matches!(c.get(j), Some('b' | 'c')) {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (c.get(j) == Some(&'"')).then_some((j + 1 - i, hashes))
}

fn tokens(code: &str) -> Vec<Tok> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' || (ch == '$' && i + 1 < c.len()) {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let mut text: String = c[start..i].iter().collect();
            // A raw identifier `r#name` is `name`.
            if text == "r" && c.get(i) == Some(&'#') {
                let s = i + 1;
                i = s;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                text = c[s..i].iter().collect();
            }
            out.push(Tok { text, line });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Tok {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Tok {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// Every cycle of the graph (one per strongly connected component of two or more files), each
/// with one closed walk through it and the line behind every step; empty when acyclic.
fn cycles_report(graph: &BTreeMap<PathBuf, Vec<Edge>>) -> String {
    let mut report = String::new();
    for scc in strongly_connected(graph) {
        if scc.len() < 2 {
            continue;
        }
        let names: Vec<String> = scc.iter().map(|p| p.display().to_string()).collect();
        let _ = writeln!(
            report,
            "cycle among {} files: {}",
            scc.len(),
            names.join(", ")
        );
        for step in one_cycle(graph, &scc) {
            let _ = writeln!(
                report,
                "  {}:{} -> {} (`{}`)",
                step.0.display(),
                step.1.line,
                step.1.to.display(),
                step.1.path
            );
        }
    }
    report
}

/// Tarjan's algorithm, iterative; components in a stable order.
fn strongly_connected(graph: &BTreeMap<PathBuf, Vec<Edge>>) -> Vec<Vec<PathBuf>> {
    let nodes: Vec<&PathBuf> = graph.keys().collect();
    let index_of: BTreeMap<&PathBuf, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            let set: BTreeSet<usize> = graph[*n]
                .iter()
                .filter_map(|e| index_of.get(&e.to).copied())
                .collect();
            set.into_iter().collect()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low, mut on_stack) = (vec![usize::MAX; n], vec![0; n], vec![false; n]);
    let (mut stack, mut out, mut next) = (Vec::new(), Vec::new(), 0);
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(start, 0)];
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        while let Some(&mut (v, ref mut k)) = call.last_mut() {
            if let Some(&w) = succ[v].get(*k) {
                *k += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(u, _)) = call.last() {
                    low[u] = low[u].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp.push(nodes[w].clone());
                        if w == v {
                            break;
                        }
                    }
                    comp.sort();
                    out.push(comp);
                }
            }
        }
    }
    out.sort();
    out
}

/// A shortest closed walk from the component's first file back to itself, as (from, edge) steps.
fn one_cycle(graph: &BTreeMap<PathBuf, Vec<Edge>>, scc: &[PathBuf]) -> Vec<(PathBuf, Edge)> {
    let inside: BTreeSet<&PathBuf> = scc.iter().collect();
    let start = &scc[0];
    // Breadth-first from start; parent links to rebuild the walk once start is reached again.
    let mut parent: BTreeMap<PathBuf, (PathBuf, Edge)> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(v) = queue.pop_front() {
        for e in &graph[&v] {
            if !inside.contains(&e.to) {
                continue;
            }
            if &e.to == start {
                let mut walk = vec![(v.clone(), e.clone())];
                let mut at = v.clone();
                while &at != start {
                    let (p, pe) = parent[&at].clone();
                    walk.push((p.clone(), pe));
                    at = p;
                }
                walk.reverse();
                return walk;
            }
            if !parent.contains_key(&e.to) {
                parent.insert(e.to.clone(), (v.clone(), e.clone()));
                queue.push_back(e.to.clone());
            }
        }
    }
    Vec::new()
}
