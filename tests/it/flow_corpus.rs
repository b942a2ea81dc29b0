//! The flow layer over real flow files (`../shared/corpus`): Kestra's own test flows and
//! the public blueprints. Every valid file must come out with the target namespace and every
//! other byte as it was; invalid files must give problems, never a panic.

use std::path::{Path, PathBuf};

use kestra_sync::flow::{self, rewrite::rewrite_namespace};
use kestra_sync::source::SourceFile;

const TARGET: &str = "kestra.sync-test";

fn corpus(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() > 20, "corpus {dir} looks empty");
    files
}

fn source_file(path: &Path) -> SourceFile {
    SourceFile {
        git_path: path.file_name().unwrap().to_string_lossy().into_owned(),
        subfolders: vec![],
        bytes: std::fs::read(path).expect("read corpus file"),
    }
}

/// Rewrite one file and check that only its top-level `namespace` line changed, and that
/// the result parses to the target namespace.
fn check_rewrite(path: &Path) {
    let text = std::fs::read_to_string(path).expect("corpus file is UTF-8");
    let out =
        rewrite_namespace(&text, TARGET).unwrap_or_else(|p| panic!("{}: {p:?}", path.display()));
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&out).expect("rewritten parses");
    assert_eq!(
        value["namespace"].as_str(),
        Some(TARGET),
        "{}",
        path.display()
    );
    // Exactly one line differs: the top-level `namespace:` line, and on it only the value.
    let (before, after): (Vec<&str>, Vec<&str>) = (text.lines().collect(), out.lines().collect());
    assert_eq!(before.len(), after.len(), "{}", path.display());
    let changed: Vec<usize> = (0..before.len())
        .filter(|&i| before[i] != after[i])
        .collect();
    let original: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("parses");
    if original["namespace"].as_str() == Some(TARGET) {
        assert!(changed.is_empty());
        return;
    }
    assert_eq!(changed.len(), 1, "{}: lines {changed:?}", path.display());
    let (old, new) = (before[changed[0]], after[changed[0]]);
    assert!(
        old.starts_with("namespace:") && new.starts_with("namespace:"),
        "{old:?}"
    );
    assert!(new.contains(TARGET));
    assert!(text.ends_with('\n') == out.ends_with('\n'));
}

#[test]
fn every_valid_flow_and_blueprint_rewrites_cleanly() {
    if !crate::common::shared_present(
        "corpus",
        "flow_corpus::every_valid_flow_and_blueprint_rewrites_cleanly",
    ) {
        return;
    }
    let files: Vec<PathBuf> = corpus("kestra-core/valids")
        .into_iter()
        .chain(corpus("blueprints"))
        .collect();
    for path in &files {
        check_rewrite(path);
    }
}

#[test]
fn valid_flows_pass_the_local_checks_except_the_reserved_id() {
    if !crate::common::shared_present(
        "corpus",
        "flow_corpus::valid_flows_pass_the_local_checks_except_the_reserved_id",
    ) {
        return;
    }
    for path in corpus("kestra-core/valids") {
        let result = flow::prepare(&[source_file(&path)], TARGET);
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "pause.yaml" {
            let problems = result.expect_err("`pause` is reserved since 1.0");
            assert_eq!(problems.len(), 1);
            assert!(problems[0].message.contains("reserved"), "{}", problems[0]);
            assert_eq!(problems[0].line, Some(1));
            continue;
        }
        let flows = result.unwrap_or_else(|p| panic!("{name}: {p:?}"));
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].namespace, TARGET);
        assert_eq!(flows[0].git_path, name);
    }
}

#[test]
fn all_blueprints_prepare_together() {
    if !crate::common::shared_present("corpus", "flow_corpus::all_blueprints_prepare_together") {
        return;
    }
    let files: Vec<SourceFile> = corpus("blueprints")
        .iter()
        .map(|p| source_file(p))
        .collect();
    match flow::prepare(&files, TARGET) {
        Ok(flows) => assert_eq!(flows.len(), files.len()),
        Err(problems) => {
            // Only duplicate ids across blueprints are acceptable problems here.
            for p in &problems {
                assert!(p.message.contains("also defined in"), "{p}");
            }
        }
    }
}

#[test]
fn invalid_flows_give_problems_not_panics() {
    if !crate::common::shared_present(
        "corpus",
        "flow_corpus::invalid_flows_give_problems_not_panics",
    ) {
        return;
    }
    let mut with_problems = Vec::new();
    for path in corpus("kestra-core/invalids") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(problems) = flow::prepare(&[source_file(&path)], TARGET) {
            assert!(!problems.is_empty());
            for p in &problems {
                assert_eq!(p.file, name);
                assert!(!p.message.is_empty());
            }
            with_problems.push(name);
        }
    }
    // The ones whose fault is visible without the server (the rest only Kestra can judge:
    // unknown task types, bad properties, cycles).
    for expected in ["duplicate-key.yaml", "empty.yaml", "invalid.yaml"] {
        assert!(
            with_problems.iter().any(|n| n == expected),
            "{expected}: {with_problems:?}"
        );
    }
}

/// Cut and splice YAML punctuation into real flows at random places (fixed seed): the
/// flow layer must answer with flows or problems, never panic; and whenever the rewrite
/// succeeds, the result carries the target namespace and differs from the input in one
/// place only.
#[test]
fn mutated_flows_never_panic() {
    if !crate::common::shared_present("corpus", "flow_corpus::mutated_flows_never_panic") {
        return;
    }
    use rand::{Rng, SeedableRng};
    const PIECES: [&str; 16] = [
        "\"", "'", ":", ": ", "[", "{", "]", "&a ", "*a", "\n", "\r\n", "\t", " #", "\n---\n",
        "|\n", "\u{feff}",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(20_24);
    let files: Vec<PathBuf> = corpus("kestra-core/valids")
        .into_iter()
        .step_by(4)
        .collect();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("UTF-8");
        for _ in 0..25 {
            let mut mutated = text.clone();
            for _ in 0..rng.gen_range(1..4) {
                let mut at = rng.gen_range(0..=mutated.len());
                while !mutated.is_char_boundary(at) {
                    at -= 1;
                }
                if rng.gen_bool(0.2) {
                    mutated.truncate(at);
                } else {
                    mutated.insert_str(at, PIECES[rng.gen_range(0..PIECES.len())]);
                }
            }
            let file = SourceFile {
                git_path: "_flows/f.yml".into(),
                subfolders: vec![],
                bytes: mutated.clone().into_bytes(),
            };
            let _ = flow::prepare(&[file], TARGET);
            if let Ok(out) = rewrite_namespace(&mutated, TARGET) {
                let body = out.trim_start_matches('\u{feff}');
                let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(body).expect("parses");
                assert_eq!(value["namespace"].as_str(), Some(TARGET), "{mutated:?}");
            }
        }
    }
}
