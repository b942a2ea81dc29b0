//! Fault injection and latency, seen from a real HTTP client: each fault kind, method
//! restriction, determinism of a seed, counters.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kestra_emulator::{Emulator, FaultKind, Faults, Options};

fn always(kind: FaultKind, methods: Option<&[&str]>) -> Faults {
    Faults {
        rate: 1.0,
        seed: 7,
        kinds: vec![kind],
        only_methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
        only_paths: None,
        limit: None,
    }
}

#[tokio::test]
async fn status_faults_answer_without_performing() {
    let (emu, c, base) = start(Options::default()).await;
    emu.set_faults(always(FaultKind::Status(503), None));
    let resp = create(&c, &base, &flow("prod", "a")).await;
    assert_eq!(resp.status(), 503);
    assert!(emu.flows("main").is_empty());
    emu.set_faults(always(FaultKind::Status(500), None));
    let resp = create(&c, &base, &flow("prod", "a")).await;
    assert_eq!(resp.status(), 500);
    assert!(json(resp).await["message"]
        .as_str()
        .unwrap()
        .starts_with("Internal server error"));
    assert_eq!((emu.write_count(), emu.request_count()), (0, 2));
    emu.set_faults(Faults::default());
    assert_eq!(create(&c, &base, &flow("prod", "a")).await.status(), 200);
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let (emu, c, base) = start(Options::default()).await;
    emu.set_faults(always(
        FaultKind::TooManyRequests {
            retry_after_secs: 3,
        },
        None,
    ));
    let resp = c.get(format!("{base}/search")).send().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
}

#[tokio::test]
async fn drop_before_handling_is_a_connection_error_and_does_nothing() {
    let (emu, c, base) = start(Options::default()).await;
    emu.set_faults(always(FaultKind::DropBeforeHandling, Some(&["POST"])));
    let err = c
        .post(&base)
        .header("content-type", "application/x-yaml")
        .body(flow("prod", "a"))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    // hyper's IncompleteMessage: "connection closed before message completed"
    assert!(err.is_request() && !err.is_connect(), "{err:?}");
    assert!(emu.flows("main").is_empty());
    assert_eq!(emu.write_count(), 0);
    // other methods are not affected
    assert_eq!(
        c.get(format!("{base}/search"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let recorded = emu.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        (recorded[0].method.as_str(), recorded[0].status),
        ("POST", None)
    );
    assert_eq!(recorded[1].status, Some(200));
}

#[tokio::test]
async fn drop_after_handling_performs_the_write_and_loses_the_answer() {
    let (emu, c, base) = start(Options::default()).await;
    emu.set_faults(always(
        FaultKind::DropAfterHandling,
        Some(&["POST", "DELETE"]),
    ));
    let err = c
        .post(&base)
        .header("content-type", "application/x-yaml")
        .body(flow("prod", "a"))
        .send()
        .await
        .expect_err("the answer is lost");
    assert!(!err.is_status(), "{err:?}");
    let stored = emu.flows("main");
    assert_eq!(stored.len(), 1, "the write happened");
    assert_eq!(emu.write_count(), 1);
    // the client can reconcile by reading
    let got = c
        .get(format!("{base}/prod/a?source=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(got).await["revision"], 1);
    assert!(c.delete(format!("{base}/prod/a")).send().await.is_err());
    assert!(emu.flows("main").is_empty());
}

#[tokio::test]
async fn stall_delays_the_answer() {
    let (emu, c, base) = start(Options::default()).await;
    emu.set_faults(always(FaultKind::Stall(Duration::from_millis(400)), None));
    let t = Instant::now();
    assert_eq!(
        c.get(format!("{base}/search"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(400));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = impatient
        .get(format!("{base}/search"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

async fn pattern(emu: &Emulator, c: &reqwest::Client, n: usize) -> Vec<u16> {
    let url = format!("{}/api/v1/main/flows/search", emu.url());
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(c.get(&url).send().await.unwrap().status().as_u16());
    }
    out
}

#[tokio::test]
async fn a_seed_gives_the_same_faults_for_the_same_request_order() {
    let faults = Faults {
        rate: 0.5,
        seed: 42,
        kinds: vec![FaultKind::Status(500), FaultKind::Status(502)],
        only_methods: None,
        only_paths: None,
        limit: None,
    };
    let opts = Options {
        faults: faults.clone(),
        ..Options::default()
    };
    let c = client();
    let a = Emulator::start(opts.clone()).await.unwrap();
    let b = Emulator::start(opts).await.unwrap();
    let pa = pattern(&a, &c, 40).await;
    let pb = pattern(&b, &c, 40).await;
    assert_eq!(pa, pb);
    let failed = pa.iter().filter(|s| **s != 200).count();
    assert!((8..=32).contains(&failed), "about half fail: {pa:?}");
    assert!(pa.contains(&500) && pa.contains(&502));
    // set_faults re-seeds: the pattern starts over
    a.set_faults(faults.clone());
    assert_eq!(pattern(&a, &c, 40).await, pb);
    // another seed, another pattern
    a.set_faults(Faults { seed: 43, ..faults });
    assert_ne!(pattern(&a, &c, 40).await, pb);
}

#[tokio::test]
async fn latency_is_added_to_every_request_and_counts_reset() {
    let (emu, c, base) = start(Options {
        latency: Duration::from_millis(250),
        ..Options::default()
    })
    .await;
    let t = Instant::now();
    c.get(format!("{base}/search")).send().await.unwrap();
    c.get(format!("{}/api/v1/configs", emu.url()))
        .send()
        .await
        .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(500));
    emu.set_latency(Duration::ZERO);
    let t = Instant::now();
    c.get(format!("{base}/search")).send().await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(250));
    assert_eq!(emu.request_count(), 3);
    emu.reset_counts();
    assert_eq!(
        (emu.request_count(), emu.write_count(), emu.requests().len()),
        (0, 0, 0)
    );
}
