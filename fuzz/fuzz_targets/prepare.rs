//! The flow parser and checker on arbitrary bytes as a file in a subfolder: any input gives
//! flows or problems naming the file, never a panic; a flow it accepts carries the target
//! namespace and parses again.
#![no_main]

use kestra_sync::source::SourceFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = SourceFile {
        git_path: "_flows/team/fuzz.yml".into(),
        subfolders: vec!["team".into()],
        bytes: data.to_vec(),
    };
    match kestra_sync::flow::prepare(std::slice::from_ref(&file), "prod") {
        Ok(flows) => {
            assert_eq!(flows.len(), 1);
            let flow = &flows[0];
            assert_eq!(flow.namespace, "prod.team");
            assert_eq!(flow.git_path, file.git_path);
            let body = flow.source.strip_prefix('\u{feff}').unwrap_or(&flow.source);
            let doc: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(body).expect("an accepted flow parses again");
            assert_eq!(
                doc.get("namespace").and_then(|v| v.as_str()),
                Some("prod.team")
            );
            assert_eq!(
                doc.get("id").and_then(|v| v.as_str()),
                Some(flow.id.as_str())
            );
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            for p in &problems {
                assert_eq!(p.file, file.git_path, "a problem names the file");
                assert!(!p.message.is_empty());
            }
        }
    }
});
