//! Conformance cases for the tenancy store, continued: access requests (pending once,
//! decided once), API idempotency keys and the filtered audit query.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance_tenancy::{begin, idempotency, q, request, seqs, t, world};
use crate::{AuditQuery, Database, IdempotencyRecord, StoreError};
use std::sync::Arc;
use tessera_domain::audit::{Actor, AuditEvent, AuditRecord, ChainVerifier, Outcome};
use tessera_domain::tenancy::{AccessRequest, AccessRequestStatus};
use tessera_domain::{AccessRequestId, TenantId};
use uuid::Uuid;

pub async fn access_requests_are_pending_once_per_app_and_user(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let user = &w.users[0];
    let first = request(1, &w.app1, user, 1);
    let mut tx = begin(&db).await;
    tx.insert_access_request(&first).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    let err = tx
        .insert_access_request(&request(2, &w.app1, user, 2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "app" }),
        "{err:?}"
    );
    drop(tx);

    let mut tx = begin(&db).await;
    // Another user, or another app, may ask at the same time.
    tx.insert_access_request(&request(3, &w.app1, &w.users[1], 3))
        .await
        .unwrap();
    tx.insert_access_request(&request(4, &w.app2, user, 4))
        .await
        .unwrap();
    assert_eq!(
        tx.pending_access_request(w.app1.id, user.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        tx.access_request_in_tenant(w.alpha.id, first.id)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        tx.access_request_in_tenant(w.beta.id, first.id)
            .await
            .unwrap(),
        None,
        "another tenant's request is not found"
    );
    assert!(
        tx.decide_access_request(first.id, AccessRequestStatus::Approved, "user:admin", t(5))
            .await
            .unwrap()
    );
    assert!(
        !tx.decide_access_request(first.id, AccessRequestStatus::Rejected, "user:other", t(6))
            .await
            .unwrap(),
        "decided already"
    );
    assert_eq!(
        tx.pending_access_request(w.app1.id, user.id).await.unwrap(),
        None
    );
    let decided = tx
        .access_request_in_tenant(w.alpha.id, first.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        decided,
        AccessRequest {
            status: AccessRequestStatus::Approved,
            decided_at: Some(t(5)),
            decided_by: Some("user:admin".into()),
            ..first.clone()
        }
    );
    // Once decided, the user may ask again.
    let again = request(5, &w.app1, user, 7);
    tx.insert_access_request(&again)
        .await
        .expect("a new request after a decision");
    assert_eq!(
        tx.pending_access_request(w.app1.id, user.id).await.unwrap(),
        Some(again)
    );
    assert!(
        !tx.decide_access_request(
            AccessRequestId::from_uuid(Uuid::nil()),
            AccessRequestStatus::Rejected,
            "cli",
            t(8)
        )
        .await
        .unwrap()
    );
    tx.commit().await.unwrap();
}

pub async fn access_request_is_decided_once_under_concurrency(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let req = request(1, &w.app1, &w.users[0], 1);
    let mut tx = begin(&db).await;
    tx.insert_access_request(&req).await.unwrap();
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for n in 0..20 {
        let db = db.clone();
        let id = req.id;
        tasks.push(tokio::spawn(async move {
            let status = if n % 2 == 0 {
                AccessRequestStatus::Approved
            } else {
                AccessRequestStatus::Rejected
            };
            let by = format!("user:admin-{n}");
            let mut tx = db.begin().await?;
            let won = tx.decide_access_request(id, status, &by, t(5)).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(won.then_some((status, by)))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap().unwrap());
    }
    assert_eq!(winners.len(), 1, "decided {} times", winners.len());
    let (status, by) = winners.remove(0);
    let mut r = db.read().await.unwrap();
    let stored = r
        .access_request_in_tenant(w.alpha.id, req.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status, stored.decided_by),
        (status, Some(by)),
        "the winner's decision is the one kept"
    );
}

pub async fn access_requests_list_newest_first_by_status(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let r1 = request(1, &w.app1, &w.users[0], 1);
    let r2 = request(2, &w.app1, &w.users[1], 2);
    let r3 = request(3, &w.app1, &w.users[2], 3);
    let r4 = request(4, &w.app2, &w.users[0], 4);
    let mut tx = begin(&db).await;
    for r in [&r2, &r4, &r1, &r3] {
        tx.insert_access_request(r).await.unwrap();
    }
    assert!(
        tx.decide_access_request(r2.id, AccessRequestStatus::Rejected, "cli", t(10))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let ids = |list: Vec<AccessRequest>| list.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(r.access_requests_of_tenant(w.alpha.id, None).await.unwrap()),
        [r3.id, r2.id, r1.id]
    );
    assert_eq!(
        ids(r
            .access_requests_of_tenant(w.alpha.id, Some(AccessRequestStatus::Pending))
            .await
            .unwrap()),
        [r3.id, r1.id]
    );
    let rejected = r
        .access_requests_of_tenant(w.alpha.id, Some(AccessRequestStatus::Rejected))
        .await
        .unwrap();
    assert_eq!(ids(rejected.clone()), [r2.id]);
    assert_eq!(rejected[0].decided_at, Some(t(10)));
    assert!(
        r.access_requests_of_tenant(w.alpha.id, Some(AccessRequestStatus::Approved))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        r.access_requests_of_tenant(w.beta.id, None).await.unwrap(),
        vec![r4.clone()]
    );
}

pub async fn idempotency_keys_are_reserved_once_per_principal(db: Arc<dyn Database>) {
    let mine = idempotency("user:1", "key-1");
    let theirs = idempotency("client:reports", "key-1");
    let mut tx = begin(&db).await;
    tx.reserve_idempotency_key(&mine).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    let other_request = IdempotencyRecord {
        fingerprint: "POST /api/groups".into(),
        ..mine.clone()
    };
    let err = tx
        .reserve_idempotency_key(&other_request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                field: "idempotency_key"
            }
        ),
        "{err:?}"
    );
    drop(tx);

    let mut tx = begin(&db).await;
    tx.reserve_idempotency_key(&theirs)
        .await
        .expect("keys of different callers never meet");
    assert_eq!(
        tx.idempotency_record("user:1", "key-1").await.unwrap(),
        Some(mine.clone()),
        "reserved, still running"
    );
    tx.complete_idempotency_key("user:1", "key-1", 201, r#"{"id":"app-1"}"#)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.idempotency_record("user:1", "key-1").await.unwrap(),
        Some(IdempotencyRecord {
            status: Some(201),
            body: Some(r#"{"id":"app-1"}"#.into()),
            ..mine.clone()
        })
    );
    assert_eq!(
        r.idempotency_record("client:reports", "key-1")
            .await
            .unwrap(),
        Some(theirs.clone()),
        "another caller's record is untouched"
    );
    assert_eq!(r.idempotency_record("user:1", "key-2").await.unwrap(), None);
    drop(r);

    let mut tx = begin(&db).await;
    tx.release_idempotency_key("client:reports", "key-1")
        .await
        .unwrap();
    assert_eq!(
        tx.idempotency_record("client:reports", "key-1")
            .await
            .unwrap(),
        None
    );
    tx.reserve_idempotency_key(&theirs)
        .await
        .expect("a released key can be claimed again");
    tx.commit().await.unwrap();
}

pub async fn audit_query_filters_and_pages(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let (a, b) = (w.alpha.id, w.beta.id);
    let ada = Actor::User(w.users[0].id);
    let bob = Actor::User(w.users[1].id);
    let event = |at: i64, actor: &Actor, action: &str, target: &str, tenant: Option<TenantId>| {
        let e = AuditEvent::new(t(at), actor, action, Outcome::Success)
            .target(target)
            .detail(serde_json::json!({ "at": at }));
        match tenant {
            Some(id) => e.tenant(id),
            None => e,
        }
    };
    let events = [
        event(0, &Actor::Cli, "tenant.create", "tenant:alpha", Some(a)), // 1
        event(10, &ada, "app.create", "app:1", Some(a)),                 // 2
        event(20, &ada, "app.update", "app:1", Some(a)),                 // 3
        event(30, &bob, "app.create", "app:2", Some(b)),                 // 4
        event(40, &ada, "group_member.add", "group:1", Some(a)),         // 5
        event(50, &Actor::Cli, "user.create", "user:1", None),           // 6
        event(60, &ada, "groupxmember.add", "group:1", Some(a)),         // 7
        event(70, &ada, "APP.create", "app:3", Some(a)),                 // 8
        event(80, &ada, "apps.list", "app:1", Some(a)),                  // 9
    ];
    let mut tx = begin(&db).await;
    let mut appended: Vec<AuditRecord> = Vec::new();
    for e in &events {
        appended.push(tx.append_audit(e).await.unwrap());
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let all = r.audit_after(0, 100).await.unwrap();
    assert_eq!(all, appended, "tenants are stored and read back");
    let mut v = ChainVerifier::default();
    for rec in &all {
        v.push(rec).unwrap();
    }
    assert_eq!(
        v.checked(),
        9,
        "the chain verifies with tenant-tagged events"
    );

    assert_eq!(seqs(&mut r, q(|_| {})).await, [9, 8, 7, 6, 5, 4, 3, 2, 1]);
    let tenant_a = AuditQuery {
        tenant: Some(a),
        limit: 100,
        ..AuditQuery::default()
    };
    assert_eq!(seqs(&mut r, tenant_a.clone()).await, [9, 8, 7, 5, 3, 2, 1]);
    assert_eq!(
        seqs(
            &mut r,
            AuditQuery {
                tenant: Some(b),
                ..tenant_a.clone()
            }
        )
        .await,
        [4]
    );
    assert_eq!(
        seqs(
            &mut r,
            AuditQuery {
                tenant: None,
                actor: Some(ada.encode()),
                ..tenant_a.clone()
            }
        )
        .await,
        [9, 8, 7, 5, 3, 2]
    );
    assert_eq!(
        seqs(
            &mut r,
            AuditQuery {
                tenant: None,
                actor: Some("cli".into()),
                ..tenant_a.clone()
            }
        )
        .await,
        [6, 1]
    );
    assert_eq!(
        seqs(
            &mut r,
            AuditQuery {
                tenant: None,
                target: Some("app:1".into()),
                ..tenant_a.clone()
            }
        )
        .await,
        [9, 3, 2]
    );
    assert_eq!(
        seqs(&mut r, q(|q| q.action = Some("app.create".into()))).await,
        [4, 2],
        "an exact action"
    );
    assert_eq!(
        seqs(&mut r, q(|q| q.action = Some("app".into()))).await,
        Vec::<i64>::new(),
        "without a dot, no prefix"
    );
    assert_eq!(
        seqs(&mut r, q(|q| q.action = Some("app.".into()))).await,
        [4, 3, 2],
        "a prefix: not `apps.`, not another case"
    );
    assert_eq!(
        seqs(&mut r, q(|q| q.action = Some("group_member.".into()))).await,
        [5],
        "`_` is no wildcard"
    );
    assert_eq!(
        seqs(
            &mut r,
            q(|q| {
                q.since = Some(t(20));
                q.until = Some(t(40));
            })
        )
        .await,
        [4, 3],
        "since is inclusive, until exclusive"
    );
    assert_eq!(
        seqs(
            &mut r,
            q(|q| {
                q.before = Some(5);
                q.limit = 2;
            })
        )
        .await,
        [4, 3]
    );
    assert_eq!(
        seqs(
            &mut r,
            AuditQuery {
                action: Some("app.".into()),
                before: Some(3),
                ..tenant_a.clone()
            }
        )
        .await,
        [2],
        "filters combine"
    );
    assert_eq!(seqs(&mut r, q(|q| q.limit = 3)).await, [9, 8, 7]);
    let got = r
        .audit_query(&AuditQuery {
            target: Some("app:2".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(got, vec![appended[3].clone()], "whole records");
}
