//! Conformance with Kestra's official OpenAPI specs (1.3.0 and 2.0): every route the
//! emulator serves exists in the spec with that method; the statuses it answers on success
//! are declared; the query parameters and request media types it accepts are declared;
//! its JSON answers carry the properties the spec's schemas require (FlowWithSource, Flow,
//! PagedResults_Flow_, ValidateConstraintViolation, the configuration), with the declared
//! JSON types. (0.22's untenanted paths are not in these specs and are not checked here.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use kestra_emulator::{served_routes, Emulator, Options, Recorded};
use serde_json::Value;

struct Spec {
    doc: Value,
    name: String,
}

fn load(file: &str) -> Spec {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../shared/kestra-openapi",
        file,
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("spec parses");
    Spec {
        doc: serde_json::to_value(yaml).expect("spec as JSON"),
        name: file.to_string(),
    }
}

impl Spec {
    fn op(&self, method: &str, path: &str) -> Option<&Value> {
        self.doc["paths"]
            .get(path)?
            .get(method.to_ascii_lowercase())
    }

    fn schema(&self, name: &str) -> &Value {
        let s = &self.doc["components"]["schemas"][name];
        assert!(s.is_object(), "{}: no schema {name}", self.name);
        s
    }

    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => self.schema(r.trim_start_matches("#/components/schemas/")),
            None => s,
        }
    }

    /// Required names and declared properties of a schema, through `$ref` and `allOf`.
    fn shape(
        &self,
        s: &Value,
        required: &mut BTreeSet<String>,
        props: &mut BTreeMap<String, Value>,
    ) {
        let s = self.resolve(s);
        if let Some(r) = s.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_string));
        }
        if let Some(p) = s.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        for part in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.shape(part, required, props);
        }
    }

    /// `value` is an object with every required property, each declared property of the
    /// declared JSON type.
    fn check(&self, schema: &str, value: &Value, what: &str) {
        let (mut required, mut props) = (BTreeSet::new(), BTreeMap::new());
        self.shape(self.schema(schema), &mut required, &mut props);
        let obj = value
            .as_object()
            .unwrap_or_else(|| panic!("{what}: not an object: {value}"));
        for r in &required {
            assert!(
                obj.contains_key(r),
                "{}: {what} lacks `{r}` required by {schema}: {value}",
                self.name
            );
        }
        for (k, v) in obj {
            let Some(decl) = props.get(k) else { continue };
            let decl = self.resolve(decl);
            let ok = match decl.get("type").and_then(Value::as_str) {
                Some("string") => v.is_string(),
                Some("integer") => v.is_i64() || v.is_u64(),
                Some("number") => v.is_number(),
                Some("boolean") => v.is_boolean(),
                Some("array") => v.is_array(),
                Some("object") => v.is_object(),
                _ => true,
            };
            assert!(
                ok,
                "{}: {what}.{k} is not of the type {schema} declares ({decl}): {v}",
                self.name
            );
        }
    }

    /// The response schema name of an operation's success answer.
    fn response_ref(&self, method: &str, path: &str, status: &str) -> Option<String> {
        let content =
            &self.op(method, path)?["responses"][status]["content"]["application/json"]["schema"];
        let r = content
            .get("$ref")
            .or_else(|| content["items"].get("$ref"))?;
        Some(
            r.as_str()?
                .trim_start_matches("#/components/schemas/")
                .to_string(),
        )
    }
}

/// The served template a concrete path matched (the most specific one).
fn template_of(routes: &[(String, String)], method: &str, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    routes
        .iter()
        .filter(|(m, _)| m == method)
        .filter(|(_, t)| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .max_by_key(|(_, t)| t.split('/').filter(|s| !s.starts_with('{')).count())
        .map(|(_, t)| t.clone())
}

/// Exercise every served route once, checking each JSON answer against its schema.
async fn scenario(spec: &Spec, version: &str) -> (Emulator, Vec<Recorded>) {
    let (emu, c, base) = start(Options {
        version: version.into(),
        ..Options::default()
    })
    .await;
    let flows = "/api/v1/{tenant}/flows";
    let one = format!("{flows}/{{namespace}}/{{id}}");
    let src = flow("prod", "a");

    let created = json(create(&c, &base, &src).await).await;
    assert_eq!(
        spec.response_ref("POST", flows, "200").as_deref(),
        Some("FlowWithSource")
    );
    spec.check("FlowWithSource", &created, "create answer");

    let got = json(
        c.get(format!("{base}/prod/a?source=true&allowDeleted=false"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        spec.response_ref("GET", &one, "200").as_deref(),
        Some("FlowWithSource")
    );
    spec.check("FlowWithSource", &got, "get answer");

    let updated = json(update(&c, &base, "prod", "a", &format!("{src}# changed\n")).await).await;
    assert_eq!(
        spec.response_ref("PUT", &one, "200").as_deref(),
        Some("FlowWithSource")
    );
    spec.check("FlowWithSource", &updated, "update answer");

    let list = json(c.get(format!("{base}/prod")).send().await.unwrap()).await;
    assert_eq!(
        spec.response_ref("GET", &format!("{flows}/{{namespace}}"), "200")
            .as_deref(),
        Some("Flow")
    );
    for f in list.as_array().expect("array") {
        spec.check("Flow", f, "list item");
    }

    let page = json(
        c.get(format!(
            "{base}/search?page=1&size=10&sort=id:asc&filters[namespace][PREFIX]=prod"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        spec.response_ref("GET", &format!("{flows}/search"), "200")
            .as_deref(),
        Some("PagedResults_Flow_")
    );
    spec.check("PagedResults_Flow_", &page, "search answer");
    assert_eq!(page["total"], 1);
    for f in page["results"].as_array().expect("results") {
        spec.check("Flow", f, "search result");
    }

    let zip = c
        .get(format!(
            "{base}/export/by-query?filters[namespace][PREFIX]=prod"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(zip.status(), 200);
    let export_op = spec
        .op("GET", &format!("{flows}/export/by-query"))
        .expect("export op");
    assert!(export_op["responses"]["200"]["content"]
        .get("application/octet-stream")
        .is_some());

    let validated = json(
        c.post(format!("{base}/validate"))
            .header("content-type", "application/x-yaml")
            .body(format!("{src}---\nid: b\nnamespace: prod\n"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        spec.response_ref("POST", &format!("{flows}/validate"), "200")
            .as_deref(),
        Some("ValidateConstraintViolation")
    );
    for v in validated.as_array().expect("array") {
        spec.check("ValidateConstraintViolation", v, "validate result");
    }
    let form = reqwest::multipart::Form::new().part(
        "flows",
        reqwest::multipart::Part::text(src.clone()).file_name("a.yml"),
    );
    let validated = json(
        c.post(format!("{base}/validate"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    spec.check(
        "ValidateConstraintViolation",
        &validated[0],
        "multipart validate result",
    );

    let cfg = json(
        c.get(format!("{}/api/v1/configs", emu.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (mut _req, mut props) = (BTreeSet::new(), BTreeMap::new());
    spec.shape(
        spec.schema("MiscController.Configuration"),
        &mut _req,
        &mut props,
    );
    for k in cfg.as_object().expect("object").keys() {
        assert!(
            props.contains_key(k),
            "{}: configs answers `{k}`, not in the spec",
            spec.name
        );
    }
    spec.check("MiscController.Configuration", &cfg, "configs answer");

    if version.starts_with('2') {
        let login = json(
            c.get(format!("{}/api/v1/configs/login", emu.url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        spec.check(
            "MiscController.LoginConfiguration",
            &login,
            "configs/login answer",
        );
    }

    // namespace files: upload, read, list, folder, revisions, export, delete
    let files = format!("{}/api/v1/main/namespaces/prod/files", emu.url());
    let form = reqwest::multipart::Form::new().part(
        "fileContent",
        reqwest::multipart::Part::bytes(b"print(1)".to_vec()).file_name("a.py"),
    );
    let up = c
        .post(format!("{files}?path=/s/a.py"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let upload_op = spec
        .op("POST", "/api/v1/{tenant}/namespaces/{namespace}/files")
        .expect("upload op");
    assert!(
        upload_op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
            .get("fileContent")
            .is_some()
    );
    for url in [
        format!("{files}?path=/s/a.py&revision=1"),
        format!("{files}/revisions?path=/s/a.py"),
        format!("{files}/export"),
    ] {
        assert_eq!(c.get(url).send().await.unwrap().status(), 200);
    }
    let made = c
        .post(format!("{files}/directory?path=/d"))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 200);
    let listed = json(
        c.get(format!("{files}/directory?path=/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for f in listed.as_array().expect("array") {
        spec.check("FileAttributes", f, "directory listing item");
    }
    assert_eq!(
        c.delete(format!("{files}?path=/s"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(
        c.delete(format!("{base}/prod/a"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let requests = emu.requests();
    (emu, requests)
}

async fn conforms(file: &str, version: &str) {
    let spec = load(file);
    let routes = served_routes(&Options {
        version: version.into(),
        ..Options::default()
    })
    .unwrap();
    // every served route is in the spec with that method
    for (method, path) in &routes {
        assert!(
            spec.op(method, path).is_some(),
            "{file}: {method} {path} is not in the spec"
        );
    }
    // request bodies: the media types the emulator consumes are declared
    let flows = "/api/v1/{tenant}/flows";
    for (method, path, types) in [
        ("POST", flows.to_string(), vec!["application/x-yaml"]),
        (
            "PUT",
            format!("{flows}/{{namespace}}/{{id}}"),
            vec!["application/x-yaml"],
        ),
        (
            "POST",
            format!("{flows}/validate"),
            vec!["application/x-yaml", "multipart/form-data"],
        ),
    ] {
        let content = &spec.op(method, &path).unwrap()["requestBody"]["content"];
        for t in types {
            assert!(
                content.get(t).is_some(),
                "{file}: {method} {path} does not consume {t}"
            );
        }
    }

    let (_emu, requests) = scenario(&spec, version).await;
    let mut seen = BTreeSet::new();
    for r in &requests {
        let template = template_of(&routes, &r.method, &r.path)
            .unwrap_or_else(|| panic!("{} {} matched no served route", r.method, r.path));
        seen.insert((r.method.clone(), template.clone()));
        let op = spec.op(&r.method, &template).unwrap();
        let status = r.status.expect("answered").to_string();
        assert!(
            op["responses"].get(&status).is_some(),
            "{file}: {} {template} answered {status}, not declared",
            r.method
        );
        // every query parameter name used is declared (`filters[...][...]` → `filters`)
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        for (k, _) in form_urlencoded::parse(r.query.as_bytes()) {
            let name = k.split('[').next().unwrap_or_default().to_string();
            assert!(
                declared.contains(name.as_str()),
                "{file}: {} {template}: query parameter `{name}` not declared",
                r.method
            );
        }
    }
    let served: BTreeSet<(String, String)> = routes.into_iter().collect();
    assert_eq!(seen, served, "the scenario exercises every served route");
}

#[tokio::test]
async fn conforms_to_the_1_3_0_spec() {
    if !common::shared_present(
        "kestra-openapi",
        "emulator conformance::conforms_to_the_1_3_0_spec",
    ) {
        return;
    }
    conforms("kestra-ee-1.3.0.yml", "1.3.0").await;
}

#[tokio::test]
async fn conforms_to_the_2_0_spec() {
    if !common::shared_present(
        "kestra-openapi",
        "emulator conformance::conforms_to_the_2_0_spec",
    ) {
        return;
    }
    conforms("kestra-ee-2.0.0-SNAPSHOT.yml", "2.0.0").await;
}

#[tokio::test]
async fn conformance_catches_a_missing_required_property() {
    if !common::shared_present(
        "kestra-openapi",
        "emulator conformance::conformance_catches_a_missing_required_property",
    ) {
        return;
    }
    let spec = load("kestra-ee-1.3.0.yml");
    let mut flow = serde_json::json!({"id": "a", "namespace": "n", "deleted": false, "disabled": false, "tasks": []});
    spec.check("Flow", &flow, "complete");
    flow.as_object_mut().unwrap().remove("disabled");
    let caught = std::panic::catch_unwind(|| spec.check("Flow", &flow, "incomplete"));
    assert!(caught.is_err());
    let wrong_type = serde_json::json!({"id": "a", "namespace": "n", "deleted": "no", "disabled": false, "tasks": []});
    assert!(std::panic::catch_unwind(|| spec.check("Flow", &wrong_type, "typed")).is_err());
}
