//! Done-when 3: SIGKILL in the middle of a burst of 200 changes that each queue an email.
//! After a restart every committed change has exactly one outbox message, no message exists
//! without its change, and each message reaches the SMTP sink once (a message that was in
//! the middle of delivery at the kill may arrive a second time, with the same Message-ID).

use crate::support::{Browser, PASSWORD, Served, run, sqlite_url, temp_dir, tessera};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tessera_testkit::SmtpSink;
use tokio::sync::{Mutex, Semaphore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_burst_loses_and_duplicates_nothing() {
    let dir = temp_dir();
    let db = sqlite_url(dir.path());
    let sink = SmtpSink::start().await;

    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", &db).arg("migrate");
    assert_eq!(run(cmd, None).code, Some(0));
    let mut cmd = tessera(dir.path());
    cmd.env("TESSERA_DATABASE_URL", &db).args([
        "admin",
        "bootstrap",
        "--username",
        "root",
        "--email",
        "root@agency.gov.sg",
        "--password-stdin",
    ]);
    assert_eq!(run(cmd, Some(PASSWORD)).code, Some(0));

    let port = tessera_testkit::free_port();
    let node = |dir: &std::path::Path| {
        let mut cmd = tessera(dir);
        cmd.env("TESSERA_DATABASE_URL", &db)
            .env("TESSERA_SMTP_URL", sink.url())
            .env("TESSERA_OUTBOX_LEASE_SECONDS", "5");
        cmd
    };
    let mut server = Served::start(node(dir.path()), port);
    let mut b = Browser::new(&server.base);
    assert_eq!(b.sign_in("root", PASSWORD).await.status, 303);
    let cookie = b.get("/admin").await;
    assert_eq!(cookie.status, 200);
    let b = Arc::new(Mutex::new(b));

    // 200 changes, 10 at a time; kill -9 once about half have been acknowledged.
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(10));
    let mut tasks = Vec::new();
    for n in 0..200 {
        let (b, acknowledged, done, gate) =
            (b.clone(), acknowledged.clone(), done.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.unwrap();
            let to = format!("crash{n:03}@agency.gov.sg");
            let (client, base, cookie) = {
                let b = b.lock().await;
                (b.client.clone(), b.base.clone(), b.cookie_for_tests())
            };
            let sent = client
                .post(format!("{base}/admin/outbox/test"))
                .header("cookie", cookie)
                .form(&[("to", to.as_str())])
                .send()
                .await;
            if let Ok(r) = sent
                && r.status().as_u16() == 303
            {
                acknowledged.lock().await.insert(to);
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    while done.load(Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server.kill_hard();
    for t in tasks {
        t.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() >= 90,
        "only {} acknowledged before the kill",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() < 200,
        "the kill came too late to test anything"
    );

    // Restart on the same database: delivery resumes, including what was in flight.
    let _server = Served::start(node(dir.path()), port);
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'delivered'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} messages never delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Every committed change (its audit event) has exactly one message, and vice versa.
    let changes: Vec<String> =
        sqlx::query_scalar("SELECT target FROM audit_events WHERE action = 'outbox.test_email'")
            .fetch_all(&pool)
            .await
            .unwrap();
    let rows: Vec<(uuid::Uuid, String, i32)> = sqlx::query_as(
        "SELECT id, recipient, attempts FROM outbox WHERE subject = 'Tessera test message'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let messages: BTreeSet<String> = rows
        .iter()
        .map(|(id, _, _)| format!("message:{id}"))
        .collect();
    let changes_set: BTreeSet<String> = changes.iter().cloned().collect();
    assert_eq!(
        changes.len(),
        changes_set.len(),
        "a change was recorded twice"
    );
    assert_eq!(changes_set, messages, "changes and outbox messages differ");
    let recipients: BTreeSet<String> = rows.iter().map(|(_, to, _)| to.clone()).collect();
    assert_eq!(
        recipients.len(),
        rows.len(),
        "one change queued two messages"
    );
    assert!(
        acknowledged.is_subset(&recipients),
        "an acknowledged change was lost"
    );

    // Each message reached the sink; only one that was mid-delivery at the kill may have
    // arrived twice.
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for mail in sink.received() {
        if mail.header("Subject").as_deref() == Some("Tessera test message") {
            *received.entry(mail.message_id().unwrap()).or_default() += 1;
        }
    }
    let mut duplicates = 0;
    for (id, _, attempts) in &rows {
        let count = received
            .get(&format!("<{id}@tessera.outbox>"))
            .copied()
            .unwrap_or(0);
        assert!(count >= 1, "message {id} never arrived");
        if count > 1 {
            assert!(
                *attempts > 1,
                "message {id} arrived {count} times but was sent once"
            );
            duplicates += count - 1;
        }
    }
    assert_eq!(
        received.len(),
        rows.len(),
        "the sink got a message Tessera does not know"
    );
    assert!(
        duplicates <= 8,
        "{duplicates} duplicates: more than one claimed batch"
    );
    println!(
        "crash test: {} acknowledged, {} committed, {} delivered, {} in flight at the kill re-sent",
        acknowledged.len(),
        rows.len(),
        received.len(),
        duplicates
    );
    pool.close().await;
}
