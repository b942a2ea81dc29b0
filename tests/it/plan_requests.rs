//! A plan's requests do not grow with the number of flows (issue 5), against the emulator
//! over real HTTP through `run::plan`: configuration + export + one search page whatever the
//! size; beyond 1,000 flows the revisions of the changed flows only, in whichever costs
//! fewer requests; ambiguous export entry names beyond the first search page identified
//! right; and the per-flow fallback when the export is not usable.

use std::collections::BTreeMap;
use std::time::Duration;

use kestra_emulator::{Emulator, Options};
use kestra_sync::app::pipeline as run;
use kestra_sync::cli::{Format, SourceKind};
use kestra_sync::flow::Flow;
use kestra_sync::http::{Backoff, HttpOptions};
use kestra_sync::kestra::client::{Auth, KestraConfig};
use kestra_sync::kestra::Scope;
use kestra_sync::plan::{Plan, SyncState};
use kestra_sync::settings::{CiSettings, Settings};

fn src(ns: &str, id: &str, version: u32) -> String {
    format!(
        "id: {id}\nnamespace: {ns}\n# kept verbatim\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: \"{id} v{version}\"\n"
    )
}

fn local(ns: &str, id: &str, version: u32) -> Flow {
    Flow {
        git_path: format!("_flows/{ns}/{id}.yml"),
        namespace: ns.into(),
        id: id.into(),
        source: src(ns, id, version),
        inserted_line: None,
    }
}

fn settings(emu: &Emulator, target: &str, delete: bool) -> Settings {
    Settings {
        scope: Scope::new(target, true),
        git_directory: "_flows".into(),
        workspace: ".".into(),
        source: SourceKind::Workspace,
        git: None,
        delete,
        dry_run: false,
        max_deletes: 1000,
        allow_mass_delete: false,
        ignore_invalid_flows: false,
        fail_on_missing_directory: true,
        kestra: Some(KestraConfig {
            url: emu.url(),
            tenant: None,
            auth: Auth::None,
            timeout: Duration::from_secs(10),
            retries: 1,
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(20),
            },
        }),
        server_error: None,
        http: HttpOptions::default(),
        concurrency: 8,
        format: Format::Json,
        detailed_exitcode: false,
        plan_file: None,
        reviewed_plan: None,
        color: false,
        ci: CiSettings::default(),
        files: None,
    }
}

/// An emulator; big exports stored, not deflated (the test measures the client).
async fn emulator(export_enabled: bool) -> Emulator {
    let emu = Emulator::start(Options {
        export_enabled,
        export_deflate: false,
        ..Options::default()
    })
    .await
    .expect("the emulator starts");
    // never in scope, never listed
    emu.seed_flow("main", &src("prod2", "sibling", 1));
    emu.seed_flow("main", &src("other", "x", 1));
    emu.seed_flow("main", &src("other.prod", "y", 1));
    emu
}

/// `n` flows across `prod.t00`, `prod.t01`… (100 per namespace), on the server and in Git.
fn many(n: usize) -> Vec<Flow> {
    (0..n)
        .map(|i| local(&format!("prod.t{:02}", i / 100), &format!("f{i:05}"), 1))
        .collect()
}

fn seed(emu: &Emulator, flows: &[Flow]) {
    for f in flows {
        emu.seed_flow("main", &f.source);
    }
}

/// Run a plan, counting its requests.
async fn plan(emu: &Emulator, target: &str, delete: bool, flows: Vec<Flow>) -> (Plan, u64) {
    emu.reset_counts();
    let planned = run::plan(&settings(emu, target, delete), flows, None)
        .await
        .unwrap_or_else(|e| panic!("plan failed: {e}"));
    (planned.plan, emu.request_count())
}

/// The server's revision of every live flow.
fn server_revisions(emu: &Emulator) -> BTreeMap<(String, String), u64> {
    emu.flows("main")
        .into_iter()
        .map(|f| ((f.namespace, f.id), f.revision))
        .collect()
}

fn row<'p>(plan: &'p Plan, ns: &str, id: &str) -> &'p kestra_sync::plan::FlowChange {
    plan.flows
        .iter()
        .find(|f| f.namespace == ns && f.flow_id == id)
        .unwrap_or_else(|| panic!("no row for {ns}/{id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_nothing_to_change_makes_three_requests_whatever_the_number_of_flows() {
    let mut counts = Vec::new();
    for n in [1200, 2500, 5000] {
        let emu = emulator(true).await;
        let flows = many(n);
        seed(&emu, &flows);
        let (plan, requests) = plan(&emu, "prod", true, flows).await;
        assert_eq!(plan.summary.unchanged, n, "{n} flows");
        assert!(!plan.summary.has_changes(), "{n} flows");
        // configuration, export, the first search page: nothing else (no flow is written,
        // so none is sent to `/flows/validate`)
        let paths: Vec<String> = emu
            .requests()
            .iter()
            .map(|r| {
                let page = r.query.split('&').find(|q| q.starts_with("page="));
                format!("{} {}", r.path, page.unwrap_or(""))
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            paths,
            vec![
                "/api/v1/configs ",
                "/api/v1/main/flows/export/by-query ",
                "/api/v1/main/flows/search page=1",
            ],
            "{n} flows"
        );
        // Unchanged rows of the first search page have their revision, the others none
        // (documented in the plan's `revision` field).
        let with_revision = plan.flows.iter().filter(|f| f.revision.is_some()).count();
        assert_eq!(with_revision, 1000, "{n} flows");
        assert_eq!(plan.flows[999].revision, Some(1));
        assert_eq!(plan.flows[1000].revision, None);
        counts.push(requests);
    }
    assert_eq!(counts, vec![3, 3, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_beyond_the_first_page_carry_the_servers_revisions_in_few_requests() {
    let n = 2500;
    let base = many(n);
    // (index in `base`, updated in Git) beyond the first 1,000
    let updated = [1200, 1871, 2499];
    let deleted = [1500, 2300];
    let updated_on_page_one = 10;
    for (case, (updates, deletes)) in [(&updated[..], &deleted[..]), (&updated[..1], &[][..])]
        .into_iter()
        .enumerate()
    {
        let emu = emulator(true).await;
        seed(&emu, &base);
        // Some flows changed on the server since: revisions 2 and 3, not the listing's 1.
        for &i in updates.iter().chain(deletes).chain([&updated_on_page_one]) {
            let f = &base[i];
            emu.seed_flow("main", &src(&f.namespace, &f.id, 7));
            if i % 2 == 1 {
                emu.seed_flow("main", &src(&f.namespace, &f.id, 8));
            }
        }
        let mut desired: Vec<Flow> = Vec::new();
        for (i, f) in base.iter().enumerate() {
            if deletes.contains(&i) {
                continue;
            }
            if updates.contains(&i) || i == updated_on_page_one {
                desired.push(local(&f.namespace, &f.id, 9));
            } else {
                desired.push(f.clone());
            }
        }
        desired.push(local("prod.t99", "brand-new", 1));
        let (plan, requests) = plan(&emu, "prod", true, desired).await;
        assert_eq!(plan.summary.updated, updates.len() + 1, "case {case}");
        assert_eq!(plan.summary.deleted, deletes.len(), "case {case}");
        assert_eq!(plan.summary.added, 1, "case {case}");
        let truth = server_revisions(&emu);
        for f in plan
            .flows
            .iter()
            .filter(|f| matches!(f.sync_state, SyncState::Updated | SyncState::Deleted))
        {
            let key = (f.namespace.clone(), f.flow_id.clone());
            assert_eq!(f.revision, truth.get(&key).copied(), "{key:?}");
            assert!(f.revision.unwrap_or(0) >= 2, "{key:?}: {:?}", f.revision);
        }
        assert_eq!(row(&plan, "prod.t99", "brand-new").revision, None);
        // 3 + min(changed flows beyond the first page, search pages left)
        let changed_beyond = (updates.len() + deletes.len()) as u64;
        let pages_left = 2;
        // + 1 validation request for the flows written
        assert_eq!(
            requests,
            3 + changed_beyond.min(pages_left) + 1,
            "case {case}"
        );
        let gets = emu
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/api/v1/main/flows/prod.t"))
            .count() as u64;
        let expected_gets = if changed_beyond <= pages_left {
            changed_beyond
        } else {
            0
        };
        assert_eq!(gets, expected_gets, "case {case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_entry_names_beyond_the_first_page_are_identified_right() {
    let emu = emulator(true).await;
    // 1,000 flows sorting before the interesting ones push them beyond the first page.
    let fillers: Vec<Flow> = (0..1000)
        .map(|i| local("prod.0fill", &format!("f{i:04}"), 1))
        .collect();
    seed(&emu, &fillers);
    // Server only: `prod.a-b` + `c` (entry `prod.a-b-c.yml`), at revision 2; Git adds
    // `prod.a` + `b-c`, whose entry would have the same name.
    emu.seed_flow("main", &src("prod.a-b", "c", 1));
    emu.seed_flow("main", &src("prod.a-b", "c", 2));
    // Both in Git, only `prod.p` + `q-r` on the server, unchanged.
    emu.seed_flow("main", &src("prod.p", "q-r", 1));
    // Both in Git, `prod.m` + `n-o` on the server with another source: UPDATED.
    emu.seed_flow("main", &src("prod.m", "n-o", 1));
    // The other way round: the server only holds `prod.x` + `y-z` (revision 2), Git adds
    // `prod.x-y` + `z`.
    emu.seed_flow("main", &src("prod.x", "y-z", 1));
    emu.seed_flow("main", &src("prod.x", "y-z", 3));
    // Unambiguous and unchanged, beyond the first page too.
    emu.seed_flow("main", &src("prod.zz", "same", 1));

    let mut desired = fillers.clone();
    desired.extend([
        local("prod.a", "b-c", 1),
        local("prod.p", "q-r", 1),
        local("prod.p-q", "r", 1),
        local("prod.m", "n-o", 2),
        local("prod.m-n", "o", 1),
        local("prod.x-y", "z", 1),
        local("prod.zz", "same", 1),
    ]);
    let (plan, requests) = plan(&emu, "prod", true, desired).await;
    let states: Vec<(String, SyncState)> = plan
        .flows
        .iter()
        .filter(|f| f.namespace != "prod.0fill")
        .map(|f| (format!("{}/{}", f.namespace, f.flow_id), f.sync_state))
        .collect();
    assert_eq!(
        states,
        vec![
            ("prod.a/b-c".to_string(), SyncState::Added),
            ("prod.a-b/c".to_string(), SyncState::Deleted),
            ("prod.m/n-o".to_string(), SyncState::Updated),
            ("prod.m-n/o".to_string(), SyncState::Added),
            ("prod.p/q-r".to_string(), SyncState::Unchanged),
            ("prod.p-q/r".to_string(), SyncState::Added),
            ("prod.x/y-z".to_string(), SyncState::Deleted),
            ("prod.x-y/z".to_string(), SyncState::Added),
            ("prod.zz/same".to_string(), SyncState::Unchanged),
        ]
    );
    assert_eq!(plan.summary.unchanged, 1000 + 2);
    assert_eq!(row(&plan, "prod.zz", "same").revision, None);
    // The sources compared are each flow's own.
    let diff = row(&plan, "prod.m", "n-o").diff.clone().unwrap_or_default();
    assert!(diff.contains("-    message: \"n-o v1\""), "{diff}");
    assert!(diff.contains("+    message: \"n-o v2\""), "{diff}");
    let diff = row(&plan, "prod.x", "y-z").diff.clone().unwrap_or_default();
    assert!(diff.contains("-    message: \"y-z v3\""), "{diff}");
    // Revisions of the changed rows, from the server.
    assert_eq!(row(&plan, "prod.a-b", "c").revision, Some(2));
    assert_eq!(row(&plan, "prod.m", "n-o").revision, Some(1));
    assert_eq!(row(&plan, "prod.x", "y-z").revision, Some(2));
    // 3 changed rows beyond the first page, 1 page left: the page; then the validation of
    // the written flows.
    assert_eq!(requests, 3 + 1 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_export_the_fallback_lists_every_flow_with_its_revision() {
    let emu = emulator(false).await;
    let flows = many(1200);
    seed(&emu, &flows);
    emu.seed_flow("main", &src("prod.t03", "f00301", 2));
    emu.seed_flow("main", &src("prod.t11", "f01150", 2));
    emu.seed_flow("main", &src("prod.t11", "only-on-server", 1));
    let (plan, requests) = plan(&emu, "prod", false, flows).await;
    assert_eq!(plan.summary.updated, 2);
    assert_eq!(plan.summary.unchanged, 1198);
    assert_eq!(plan.summary.kept, 1);
    // Every row, changed or not, has its revision.
    let truth = server_revisions(&emu);
    for f in &plan.flows {
        let key = (f.namespace.clone(), f.flow_id.clone());
        assert_eq!(f.revision, truth.get(&key).copied(), "{key:?}");
    }
    assert_eq!(row(&plan, "prod.t11", "f01150").revision, Some(2));
    // configuration, export (404), 2 search pages, one GET per flow, one validation
    assert_eq!(requests, 1 + 1 + 2 + 1201 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_flows_written_are_validated_100_a_request() {
    let emu = emulator(true).await;
    let flows = many(1200);
    seed(&emu, &flows[..950]);
    // 250 new flows, 950 unchanged: 3 validation requests (100 + 100 + 50)
    let (plan, requests) = plan(&emu, "prod", false, flows).await;
    assert_eq!(plan.summary.added, 250);
    let validations: Vec<usize> = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/flows/validate"))
        .map(|r| r.path.len())
        .collect();
    assert_eq!(validations.len(), 3);
    assert_eq!(requests, 3 + 3);
    assert!(plan.validations.is_some());
    assert!(plan.blockers.is_empty());
}
