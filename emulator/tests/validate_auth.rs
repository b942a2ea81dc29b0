//! `POST /flows/validate` in both body forms (and the server's `---` splitting), and
//! authentication (Basic, Bearer, empty 401 bodies, the open configs endpoint).

mod common;

use common::*;
use kestra_emulator::{Auth, Emulator, Options};

async fn validate_yaml(c: &reqwest::Client, base: &str, body: &str) -> serde_json::Value {
    let resp = c
        .post(format!("{base}/validate"))
        .header("content-type", "application/x-yaml")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    json(resp).await
}

async fn validate_multipart(c: &reqwest::Client, base: &str, flows: &[&str]) -> serde_json::Value {
    let mut form = reqwest::multipart::Form::new();
    for (i, f) in flows.iter().enumerate() {
        let part = reqwest::multipart::Part::text(f.to_string())
            .file_name(format!("f{i}.yml"))
            .mime_str("application/x-yaml")
            .unwrap();
        form = form.part("flows", part);
    }
    let resp = c
        .post(format!("{base}/validate"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    json(resp).await
}

#[tokio::test]
async fn validate_reports_each_document() {
    let (emu, c, base) = start(Options::default()).await;
    let good = flow("prod", "a");
    let bad = "id: b\nnamespace: prod\n";
    let v = validate_yaml(&c, &base, &format!("{good}---\n{bad}")).await;
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["index"], 0);
    assert_eq!(
        (arr[0]["flow"].as_str(), arr[0]["namespace"].as_str()),
        (Some("a"), Some("prod"))
    );
    assert!(arr[0].get("constraints").is_none(), "{v}");
    assert_eq!(arr[0]["outdated"], false);
    assert_eq!(arr[0]["warnings"], serde_json::json!([]));
    assert!(arr[1]["constraints"]
        .as_str()
        .unwrap()
        .contains("tasks: must not be empty"));
    // validate writes nothing
    assert_eq!(emu.write_count(), 0);
    assert!(emu.flows("main").is_empty());
}

#[tokio::test]
async fn a_column_zero_dash_line_splits_the_yaml_body_but_not_multipart() {
    let (_emu, c, base) = start(Options::default()).await;
    // a flow whose block scalar holds `---` lines: at column 0 the server splits there
    let tricky = "id: play\nnamespace: prod\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: |\n      start\n---\n      end\n";
    let v = validate_yaml(&c, &base, tricky).await;
    assert_eq!(v.as_array().unwrap().len(), 2, "split in two: {v}");
    assert!(v[1]["constraints"].is_string());
    // an indented one (a real blueprint's inline playbook) is not a split point
    let indented =
        std::fs::read_to_string(corpus("blueprints/ansible-deploy-configuration.yaml")).unwrap();
    assert!(indented.contains("\n        ---\n"));
    let v = validate_yaml(&c, &base, &indented).await;
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    // multipart: one part per flow, never split
    let v = validate_multipart(&c, &base, &[&flow("prod", "a"), &indented]).await;
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["filename"], "f0.yml");
    assert_eq!(arr[1]["index"], 1);
}

fn corpus(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus")
        .join(rel)
}

#[tokio::test]
async fn validate_warns_about_missing_subflows_and_outdated_revisions() {
    if !common::shared_present(
        "corpus",
        "emulator validate_auth::validate_warns_about_missing_subflows_and_outdated_revisions",
    ) {
        return;
    }
    let (emu, c, base) = start(Options::default()).await;
    let parent = "id: parent\nnamespace: prod\ntasks:\n  - id: call\n    type: io.kestra.plugin.core.flow.Subflow\n    namespace: prod.sub\n    flowId: child\n";
    let v = validate_yaml(&c, &base, parent).await;
    assert_eq!(
        v[0]["warnings"][0],
        "The subflow 'child' not found in namespace 'prod.sub'."
    );
    assert!(
        v[0].get("constraints").is_none(),
        "a warning is not an error: {v}"
    );
    emu.seed_flow("main", &flow("prod.sub", "child"));
    let v = validate_yaml(&c, &base, parent).await;
    assert_eq!(v[0]["warnings"], serde_json::json!([]));
    // creating with a missing subflow is allowed too
    assert_eq!(
        create(&c, &base, &parent.replace("child", "other"))
            .await
            .status(),
        200
    );

    // outdated: the sent revision is not the next one
    emu.seed_flow("main", &flow("prod", "a"));
    let sent = flow("prod", "a").replacen("namespace: prod\n", "namespace: prod\nrevision: 1\n", 1);
    assert_eq!(validate_yaml(&c, &base, &sent).await[0]["outdated"], true);
    let sent = sent.replace("revision: 1", "revision: 2");
    assert_eq!(validate_yaml(&c, &base, &sent).await[0]["outdated"], false);
}

#[tokio::test]
async fn basic_auth() {
    let opts = Options {
        auth: Auth::Basic {
            username: "admin@kestra.io".into(),
            password: "Admin1234".into(),
        },
        ..Options::default()
    };
    let (emu, c, base) = start(opts).await;
    let resp = c.get(format!("{base}/search")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Basic");
    assert!(
        resp.bytes().await.unwrap().is_empty(),
        "401 bodies are empty"
    );
    let resp = c
        .get(format!("{base}/search"))
        .basic_auth("admin@kestra.io", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = c
        .get(format!("{base}/search"))
        .bearer_auth("Admin1234")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = c
        .get(format!("{base}/search"))
        .basic_auth("admin@kestra.io", Some("Admin1234"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // a 401 never performs anything
    let resp = create(&c, &base, &flow("prod", "a")).await;
    assert_eq!(resp.status(), 401);
    assert!(emu.flows("main").is_empty());
    // 1.x: configs is readable without credentials
    let resp = c
        .get(format!("{}/api/v1/configs", emu.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn bearer_auth_and_2_0_configs() {
    let opts = Options {
        version: "2.0.0".into(),
        edition: "EE".into(),
        auth: Auth::BasicOrBearer {
            username: "u".into(),
            password: "p".into(),
            token: "tok".into(),
        },
        ..Options::default()
    };
    let emu = Emulator::start(opts).await.unwrap();
    let c = client();
    let url = format!("{}/api/v1/main/flows/search", emu.url());
    assert_eq!(
        c.get(&url)
            .bearer_auth("tok")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&url)
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(&url)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // 2.0: configs needs credentials, configs/login does not
    let cfg = format!("{}/api/v1/configs", emu.url());
    assert_eq!(c.get(&cfg).send().await.unwrap().status(), 401);
    let v = json(c.get(&cfg).bearer_auth("tok").send().await.unwrap()).await;
    assert_eq!(
        (v["version"].as_str(), v["edition"].as_str()),
        (Some("2.0.0"), Some("EE"))
    );
    assert_eq!(
        c.get(format!("{cfg}/login")).send().await.unwrap().status(),
        200
    );
}
