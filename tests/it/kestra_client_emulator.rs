//! The Kestra client against the emulator over real HTTP, in each version's path form: list
//! (export and fallback), validate, create/update/delete, and a create whose answer is lost.
//! The wiremock tests pin each request; these check the pieces fit a stateful server.

use std::time::Duration;

use kestra_emulator::{Auth as EmuAuth, Emulator, FaultKind, Faults, Options};
use kestra_sync::flow::Flow;
use kestra_sync::http::Backoff;
use kestra_sync::kestra::client::{Auth, KestraConfig};
use kestra_sync::kestra::{KestraClient, Scope};
use secrecy::SecretString;

fn src(ns: &str, id: &str, message: &str) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\n# kept\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )
}

fn config(emu: &Emulator, auth: Auth) -> KestraConfig {
    KestraConfig {
        url: emu.url(),
        tenant: None,
        auth,
        timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
        },
    }
}

fn prod_and_children() -> Scope {
    Scope::new("prod", true)
}

#[tokio::test]
async fn every_version_lists_writes_and_deletes_in_its_own_path_form() {
    for (version, export_enabled) in [
        ("1.3.0", true),
        ("1.3.0", false),
        ("2.0.0", true),
        ("0.22.0", true),
    ] {
        let emu = Emulator::start(Options {
            version: version.into(),
            export_enabled,
            auth: EmuAuth::Basic {
                username: "admin@kestra.io".into(),
                password: "Admin1234".into(),
            },
            ..Options::default()
        })
        .await
        .unwrap();
        let tenant = "main";
        emu.seed_flow(tenant, &src("prod", "a", "one"));
        emu.seed_flow(tenant, &src("prod", "a", "two")); // revision 2
        emu.seed_flow(tenant, &src("prod.team-x", "b-c", "x"));
        emu.seed_flow(tenant, &src("prod2", "evil", "never listed"));

        let auth = Auth::Basic {
            username: "admin@kestra.io".into(),
            password: SecretString::from("Admin1234"),
        };
        let client = KestraClient::connect(config(&emu, auth)).await.unwrap();
        let expected_tenant = (version != "0.22.0").then(|| "main".to_string());
        assert_eq!(client.server_info().tenant, expected_tenant, "{version}");

        let flows = client
            .list_flows(&prod_and_children(), &[])
            .await
            .unwrap()
            .flows;
        let got: Vec<(&str, &str, Option<u64>)> = flows
            .iter()
            .map(|f| (f.namespace.as_str(), f.id.as_str(), f.revision))
            .collect();
        assert_eq!(
            got,
            vec![("prod", "a", Some(2)), ("prod.team-x", "b-c", Some(1))],
            "{version} export={export_enabled}"
        );
        assert_eq!(flows[0].source, src("prod", "a", "two"));

        let new = Flow {
            git_path: "_flows/new.yml".into(),
            namespace: "prod".into(),
            id: "new".into(),
            source: src("prod", "new", "hi"),
            inserted_line: None,
        };
        let bad = Flow {
            git_path: "_flows/bad.yml".into(),
            namespace: "prod".into(),
            id: "bad".into(),
            source: "id: bad\nnamespace: prod\n".into(),
            inserted_line: None,
        };
        let results = client.validate(&[&new, &bad]).await.unwrap();
        assert!(results[0].errors.is_empty(), "{version}: {results:?}");
        assert!(!results[1].errors.is_empty(), "{version}: {results:?}");

        let w = client.create(&new.source).await.unwrap();
        assert_eq!((w.id.as_str(), w.revision), ("new", Some(1)));
        let w = client
            .update("prod", "a", &src("prod", "a", "three"))
            .await
            .unwrap();
        assert_eq!(w.revision, Some(3));
        assert!(client.delete("prod.team-x", "b-c").await.unwrap());
        assert!(!client.delete("prod.team-x", "b-c").await.unwrap());
        let after: Vec<String> = client
            .list_flows(&prod_and_children(), &[])
            .await
            .unwrap()
            .flows
            .into_iter()
            .map(|f| format!("{}.{}", f.namespace, f.id))
            .collect();
        assert_eq!(after, vec!["prod.a", "prod.new"], "{version}");
    }
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_reports_maybe_applied_and_the_flow_is_there() {
    let emu = Emulator::start(Options::default()).await.unwrap();
    let client = KestraClient::connect(config(&emu, Auth::None))
        .await
        .unwrap();
    emu.set_faults(Faults {
        rate: 1.0,
        seed: 7,
        kinds: vec![FaultKind::DropAfterHandling],
        only_methods: Some(vec!["POST".into()]),
        only_paths: None,
        limit: None,
    });
    let err = client.create(&src("prod", "lost", "x")).await.unwrap_err();
    assert!(err.may_have_been_applied(), "{err:?}");
    emu.set_faults(Faults::default());
    // Not replayed: exactly one create reached the server, and it was performed.
    let live = client.get_flow("prod", "lost").await.unwrap().unwrap();
    assert_eq!(live.revision, Some(1));
    assert_eq!(emu.write_count(), 1);
}

#[tokio::test]
async fn transient_faults_on_reads_are_retried_through() {
    let emu = Emulator::start(Options::default()).await.unwrap();
    emu.seed_flow("main", &src("prod", "a", "one"));
    emu.set_faults(Faults {
        rate: 0.5,
        seed: 42,
        kinds: vec![
            FaultKind::Status(503),
            FaultKind::TooManyRequests {
                retry_after_secs: 0,
            },
            FaultKind::DropBeforeHandling,
        ],
        only_methods: Some(vec!["GET".into()]),
        only_paths: None,
        limit: None,
    });
    let mut cfg = config(&emu, Auth::None);
    cfg.retries = 8;
    let patient = KestraClient::connect(cfg).await.unwrap();
    for _ in 0..5 {
        let flows = patient
            .list_flows(&prod_and_children(), &[])
            .await
            .unwrap()
            .flows;
        assert_eq!(flows.len(), 1);
    }
    let faulted = emu
        .requests()
        .iter()
        .filter(|r| matches!(r.status, None | Some(503) | Some(429)))
        .count();
    assert!(faulted >= 3, "only {faulted} faults were injected");
}
