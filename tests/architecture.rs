//! The module graph of `src/`, read from the source: which module names which, with
//! no circle anywhere and the vocabulary (`domain`) naming nothing else.
//!
//! An edge is any `crate::…`, `super::…` or `self::…` path outside `#[cfg(test)]` code,
//! resolved to the deepest module file it names. A parent's `mod` and `pub use` lines
//! are not edges: they say where a child lives, not what the parent needs.
//! `cargo test --test architecture -- --nocapture` prints the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["runner", "wasm"]`) → the file that holds it.
fn modules(root: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(root).unwrap().with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|last| last == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            found.insert(parts, path);
        }
    }
    found
}

/// The source without its `#[cfg(test)]` items, comments and string literals.
fn code_of(text: &str) -> String {
    let mut kept = String::new();
    let mut skip_depth: Option<i32> = None;
    let mut depth = 0i32;
    let mut pending_test = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        if skip_depth.is_none() && trimmed.starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = line.matches('{').count() as i32;
        let closes = line.matches('}').count() as i32;
        if pending_test {
            pending_test = false;
            if opens > closes {
                skip_depth = Some(depth);
                depth += opens - closes;
                continue;
            }
            continue; // a one-line test item
        }
        depth += opens - closes;
        if let Some(start) = skip_depth {
            if depth <= start {
                skip_depth = None;
            }
            continue;
        }
        let line = strip_strings(line);
        let trimmed = line.trim_start();
        let reexport = trimmed.starts_with("pub use ")
            && !trimmed.contains("crate::")
            && !trimmed.contains("super::");
        if reexport
            || trimmed.starts_with("mod ")
            || trimmed.starts_with("pub mod ")
            || trimmed.starts_with("pub(crate) mod ")
        {
            continue;
        }
        kept.push_str(&line);
        kept.push('\n');
    }
    kept
}

fn strip_strings(line: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            continue;
        }
        out.push(c);
    }
    out
}

/// Every path the code names, with `use` groups (`a::{b, c::d}`) expanded. A path that
/// starts with the name of one of `children` is read as `self::child::…`.
fn paths(code: &str, children: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0
            || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':');
        let rest: String = chars[i..chars.len().min(i + 40)].iter().collect();
        let child = children
            .iter()
            .any(|child| rest.starts_with(&format!("{child}::")));
        if starts_word
            && (rest.starts_with("crate::")
                || rest.starts_with("super::")
                || rest.starts_with("self::")
                || child)
        {
            let (parsed, end) = parse_path(&chars, i);
            found.extend(parsed.into_iter().map(|mut path| {
                if child {
                    path.insert(0, "self".to_string());
                }
                path
            }));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Parses a path starting at `start`; returns every full path it names and where it ends.
fn parse_path(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    let mut i = start;
    loop {
        let word_start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        if i > word_start {
            prefix.push(chars[word_start..i].iter().collect::<String>());
        }
        if i + 1 < chars.len() && chars[i] == ':' && chars[i + 1] == ':' {
            i += 2;
            if i < chars.len() && chars[i] == '{' {
                let mut all = Vec::new();
                i += 1;
                loop {
                    while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
                        i += 1;
                    }
                    if i >= chars.len() || chars[i] == '}' {
                        return (all, i + 1);
                    }
                    let (inner, end) = parse_path(chars, i);
                    for path in inner {
                        let mut full = prefix.clone();
                        full.extend(path.into_iter().filter(|p| p != "self"));
                        all.push(full);
                    }
                    i = end.max(i + 1);
                }
            }
            continue;
        }
        // `as name` and generic tails end the path.
        while i < chars.len() && chars[i] == ' ' {
            i += 1;
        }
        if chars[i..].iter().take(3).collect::<String>() == "as " {
            i += 3;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        }
        return (vec![prefix], i);
    }
}

/// Resolves a path named in `from` to the deepest module it reaches.
fn resolve(
    from: &[String],
    path: &[String],
    known: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path.first()?.as_str() {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|p| p == "super") {
        base.pop();
        rest = &rest[1..];
    }
    // The deepest module the path names: `super::{Item}` names the parent itself.
    let mut best = known.contains_key(&base).then(|| base.clone());
    for part in rest {
        base.push(part.clone());
        if !known.contains_key(&base) {
            break;
        }
        best = Some(base.clone());
    }
    best
}

type Graph = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

fn graph() -> Graph {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&root);
    let mut graph = Graph::new();
    for (module, file) in &known {
        let children: Vec<String> = known
            .keys()
            .filter(|other| other.len() == module.len() + 1 && other.starts_with(module))
            .map(|child| child[module.len()].clone())
            .collect();
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let edges = graph.entry(module.clone()).or_default();
        for path in paths(&code, &children) {
            if let Some(target) = resolve(module, &path, &known)
                && &target != module
            {
                edges.insert(target);
            }
        }
    }
    graph
}

fn name(module: &[String]) -> String {
    module.join("::")
}

/// Strongly connected components with more than one module (Tarjan).
fn circles(graph: &Graph) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a Vec<String>) {
            let next = self.index.len();
            self.index.insert(node, next);
            self.low.insert(node, next);
            self.stack.push(node);
            self.on_stack.insert(node);
            for target in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(target) {
                    self.visit(target);
                    let low = self.low[target].min(self.low[node]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(target) {
                    let low = self.index[target].min(self.low[node]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(name(top));
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn the_module_graph_has_no_circles() {
    let graph = graph();
    for (module, targets) in &graph {
        let targets: Vec<String> = targets.iter().map(|t| name(t)).collect();
        println!("{} -> {}", name(module), targets.join(", "));
    }
    let circles = circles(&graph);
    assert!(
        circles.is_empty(),
        "modules that name each other in a circle: {circles:#?}"
    );
}

#[test]
fn the_vocabulary_names_nothing_else_in_the_crate() {
    let graph = graph();
    let outside: Vec<String> = graph
        .iter()
        .filter(|(module, _)| module[0] == "domain")
        .flat_map(|(module, targets)| {
            targets
                .iter()
                .filter(|t| t[0] != "domain")
                .map(move |t| format!("{} -> {}", name(module), name(t)))
        })
        .collect();
    assert!(
        graph.keys().any(|m| m[0] == "domain"),
        "src/domain holds the vocabulary"
    );
    assert!(outside.is_empty(), "domain names: {outside:#?}");
}

#[test]
fn the_reader_resolves_groups_and_relative_paths() {
    let code = "use crate::{a::{b, c::D}, e};\nlet x = super::f::g(); h::i();";
    let found = paths(code, &["h".to_string()]);
    assert!(found.contains(&vec!["crate".into(), "a".into(), "b".into()]));
    assert!(found.contains(&vec!["crate".into(), "a".into(), "c".into(), "D".into()]));
    assert!(found.contains(&vec!["crate".into(), "e".into()]));
    assert!(found.contains(&vec!["super".into(), "f".into(), "g".into()]));
    assert!(found.contains(&vec!["self".into(), "h".into(), "i".into()]));
    let known: BTreeMap<Vec<String>, PathBuf> =
        [vec!["a".to_string()], vec!["a".into(), "c".into()]]
            .into_iter()
            .map(|module| (module, PathBuf::new()))
            .collect();
    let from = ["a".to_string(), "c".to_string()];
    let parent = resolve(&from, &["super".into(), "Item".into()], &known);
    assert_eq!(
        parent,
        Some(vec!["a".to_string()]),
        "super::Item names the parent"
    );
    let stripped = code_of("#[cfg(test)]\nmod tests {\n    use crate::x;\n}\nuse crate::y;\n");
    assert!(!stripped.contains("crate::x") && stripped.contains("crate::y"));
}

/// Each function of `code` as (name, parameters other than `self`, lines of its body).
fn functions(code: &str) -> Vec<(String, usize, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = code[at..].find("fn ") {
        let start = at + offset;
        at = start + 3;
        let word_start =
            start == 0 || !chars[start - 1].is_alphanumeric() && chars[start - 1] != '_';
        let Some(open) = code[at..].find('(').map(|i| at + i) else {
            break;
        };
        let name = code[at..open]
            .split('<')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if !word_start || name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let (mut depth, mut commas, mut close) = (0i32, Vec::new(), open);
        for (i, c) in chars.iter().enumerate().skip(open) {
            match c {
                '(' | '<' | '[' | '{' => depth += 1,
                ')' | '>' | ']' | '}' if chars[i - 1] != '-' => depth -= 1,
                ',' if depth == 1 => commas.push(i),
                _ => {}
            }
            if depth == 0 {
                close = i;
                break;
            }
        }
        let bounds: Vec<usize> = std::iter::once(open).chain(commas).chain([close]).collect();
        let params = bounds
            .windows(2)
            .map(|pair| chars[pair[0] + 1..pair[1]].iter().collect::<String>())
            .filter(|param| !param.trim().is_empty() && !param.contains("self"))
            .count();
        let Some(body) = code[close..].find(['{', ';']).map(|i| close + i) else {
            break;
        };
        if chars[body] == ';' {
            continue;
        }
        let mut depth = 0;
        let end = (body..chars.len())
            .find(|&i| {
                depth += match chars[i] {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .unwrap_or(chars.len() - 1);
        found.push((name, params, code[start..=end].lines().count()));
    }
    found
}

#[test]
fn functions_are_short_and_take_few_arguments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for path in modules(&root)
        .into_values()
        .chain([root.join("lib.rs"), root.join("main.rs")])
    {
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for (name, params, lines) in functions(&code) {
            if lines > 120 || params > 5 {
                long.push(format!(
                    "{}: {name}: {lines} lines, {params} arguments",
                    path.display()
                ));
            }
        }
    }
    assert!(
        long.is_empty(),
        "a function is at most about 120 lines, and one with more than five arguments \
         takes a parameter struct: {long:#?}"
    );
    let sample = "fn a(x: u8, y: Vec<(u8, u8)>) -> u8 {\n    x\n}\nfn b(&self);\n";
    assert_eq!(functions(sample), vec![("a".to_string(), 2, 3)]);
}
