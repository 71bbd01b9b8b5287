//! Conformance cases for pushed requests, device grants and session↔app links.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance_oauth::{auth, refresh, world};
use crate::{Database, StoreError};
use std::sync::Arc;
use tessera_domain::clock::from_unix;
use tessera_domain::oauth::grant::DevicePoll;
use tessera_domain::oauth::{DeviceGrant, DeviceStatus, PushedRequest};
use tessera_domain::secret::SecretHash;
use time::OffsetDateTime;
use uuid::Uuid;

fn t(s: i64) -> OffsetDateTime {
    from_unix(1_800_000_000 + s)
}

pub async fn pushed_requests_work_once(db: Arc<dyn Database>) {
    let (_, c) = world(&db).await;
    let r = PushedRequest {
        request_hash: SecretHash::of("par-1"),
        client: c.id,
        params: r#"{"scope":"openid"}"#.into(),
        created_at: t(0),
        expires_at: t(300),
    };
    let mut tx = db.begin().await.unwrap();
    tx.insert_pushed_request(&r).await.unwrap();
    assert_eq!(
        tx.pushed_request(&r.request_hash).await.unwrap(),
        Some((r.clone(), false))
    );
    assert!(
        tx.consume_pushed_request(&r.request_hash, t(10))
            .await
            .unwrap()
    );
    assert!(
        !tx.consume_pushed_request(&r.request_hash, t(11))
            .await
            .unwrap(),
        "used twice"
    );
    assert_eq!(
        tx.pushed_request(&r.request_hash)
            .await
            .unwrap()
            .map(|(_, used)| used),
        Some(true)
    );
    let late = PushedRequest {
        request_hash: SecretHash::of("par-2"),
        ..r.clone()
    };
    tx.insert_pushed_request(&late).await.unwrap();
    assert!(
        !tx.consume_pushed_request(&late.request_hash, t(300))
            .await
            .unwrap(),
        "expired"
    );
    assert_eq!(
        tx.pushed_request(&SecretHash::of("nope")).await.unwrap(),
        None
    );
    tx.commit().await.unwrap();
}

fn device(c: tessera_domain::AppId, code: &str, user_code: &str) -> DeviceGrant {
    DeviceGrant {
        device_code_hash: SecretHash::of(code),
        user_code: user_code.into(),
        client: c,
        scope: "openid".into(),
        created_at: t(0),
        expires_at: t(600),
        interval_secs: 5,
        status: DeviceStatus::Pending,
        auth: None,
    }
}

pub async fn device_grants_are_decided_once_and_redeemed_once(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let mut tx = db.begin().await.unwrap();
    tx.insert_device_grant(&device(c.id, "dev-1", "BCDF-GHJK"))
        .await
        .unwrap();
    tx.insert_device_grant(&device(c.id, "dev-2", "LMNP-QRST"))
        .await
        .unwrap();
    let err = tx
        .insert_device_grant(&device(c.id, "dev-3", "BCDF-GHJK"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "user_code" }),
        "{err:?}"
    );
    tx.commit().await.unwrap();

    let mut tx = db.begin().await.unwrap();
    assert!(matches!(
        tx.poll_device_grant(&SecretHash::of("dev-1"), t(1))
            .await
            .unwrap(),
        DevicePoll::Pending { too_fast: false }
    ));
    assert!(matches!(
        tx.poll_device_grant(&SecretHash::of("dev-1"), t(3))
            .await
            .unwrap(),
        DevicePoll::Pending { too_fast: true }
    ));
    assert!(
        tx.pending_device_grant("BCDF-GHJK", t(4))
            .await
            .unwrap()
            .is_some()
    );
    let a = auth(&user);
    assert!(
        tx.decide_device_grant("BCDF-GHJK", Some(&a), t(5))
            .await
            .unwrap()
    );
    assert!(
        !tx.decide_device_grant("BCDF-GHJK", None, t(6))
            .await
            .unwrap(),
        "decided twice"
    );
    assert!(
        tx.pending_device_grant("BCDF-GHJK", t(6))
            .await
            .unwrap()
            .is_none()
    );
    match tx
        .poll_device_grant(&SecretHash::of("dev-1"), t(10))
        .await
        .unwrap()
    {
        DevicePoll::Approved(g) => {
            assert_eq!(g.auth, Some(a));
            assert_eq!(g.status, DeviceStatus::Redeemed);
        }
        other => panic!("expected Approved, got {other:?}"),
    }
    assert!(
        matches!(
            tx.poll_device_grant(&SecretHash::of("dev-1"), t(20))
                .await
                .unwrap(),
            DevicePoll::Expired
        ),
        "spent"
    );
    assert!(
        tx.decide_device_grant("LMNP-QRST", None, t(5))
            .await
            .unwrap()
    );
    assert!(matches!(
        tx.poll_device_grant(&SecretHash::of("dev-2"), t(10))
            .await
            .unwrap(),
        DevicePoll::Denied
    ));
    assert!(matches!(
        tx.poll_device_grant(&SecretHash::of("nope"), t(10))
            .await
            .unwrap(),
        DevicePoll::Unknown
    ));
    tx.insert_device_grant(&device(c.id, "dev-4", "VWXZ-BCDF"))
        .await
        .unwrap();
    assert!(matches!(
        tx.poll_device_grant(&SecretHash::of("dev-4"), t(600))
            .await
            .unwrap(),
        DevicePoll::Expired
    ));
    assert!(
        !tx.decide_device_grant("VWXZ-BCDF", None, t(600))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
}

pub async fn approved_device_grant_is_redeemed_once_under_concurrency(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let mut tx = db.begin().await.unwrap();
    tx.insert_device_grant(&device(c.id, "contended", "HJKL-MNPQ"))
        .await
        .unwrap();
    tx.decide_device_grant("HJKL-MNPQ", Some(&auth(&user)), t(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let p = tx
                .poll_device_grant(&SecretHash::of("contended"), t(10))
                .await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(matches!(p, DevicePoll::Approved(_)))
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(
        wins, 1,
        "an approved device grant was redeemed {wins} times"
    );
}

pub async fn sessions_remember_their_apps_and_end_once(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let fixture_offline = refresh(&user, &c, "fixture", Uuid::from_u128(1));
    let mut offline = refresh(&user, &c, "offline", Uuid::from_u128(2));
    offline.scope = "openid offline_access".into();
    let mut online_only = refresh(&user, &c, "online-2", Uuid::from_u128(3));
    online_only.scope = "openid profile".into();
    let mut tx = db.begin().await.unwrap();
    tx.record_session_client("sid-1", c.id, user.id, t(0))
        .await
        .unwrap();
    tx.record_session_client("sid-1", c.id, user.id, t(1))
        .await
        .unwrap();
    for r in [&fixture_offline, &offline, &online_only] {
        tx.insert_refresh_token(r).await.unwrap();
    }
    assert_eq!(tx.client_by_id(c.id).await.unwrap(), Some(c.clone()));
    // The fixture token and `offline` both carry offline_access: only one token is online.
    assert_eq!(
        tx.revoke_online_refresh_for_sid("sid-1", t(5))
            .await
            .unwrap(),
        1
    );
    assert_eq!(tx.take_session_clients("sid-1").await.unwrap(), vec![c.id]);
    assert!(
        tx.take_session_clients("sid-1").await.unwrap().is_empty(),
        "a session ends once"
    );
    tx.commit().await.unwrap();
}
