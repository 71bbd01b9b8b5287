//! Conformance cases for passkeys: credentials unique by credential id, a compare-and-set
//! on the stored passkey, ceremony state handed out once (also under concurrency), and the
//! session `amr` update of a step-up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance::sample_user;
use crate::conformance_lifecycle::{begin, insert_users, t};
use crate::{Database, PasskeyCeremony, PasskeyRecord, StoreError};
use std::sync::Arc;
use tessera_domain::secret::SecretHash;
use tessera_domain::session::PortalSession;
use tessera_domain::{CredentialId, SeededRandom, UserId};
use tokio::sync::Barrier;

fn passkey(n: u32, user: UserId, created: i64) -> PasskeyRecord {
    PasskeyRecord {
        id: CredentialId::new_at(t(created), &SeededRandom::new(7000 + u64::from(n))),
        user_id: user,
        credential_id: vec![u8::try_from(n).unwrap(); 16],
        passkey_json: format!(r#"{{"cred":{n}}}"#),
        name: format!("Laptop {n}"),
        created_at: t(created),
        last_used_at: None,
        version: 1,
    }
}

fn ceremony(secret: &str, user: Option<UserId>, expires: i64) -> PasskeyCeremony {
    PasskeyCeremony {
        token_hash: SecretHash::of(secret),
        user_id: user,
        kind: "signin".into(),
        state_json: r#"{"ast":{}}"#.into(),
        expires_at: t(expires),
    }
}

pub async fn passkeys_round_trip_unique_by_credential_id(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let first = passkey(1, ada.id, 10);
    let second = passkey(2, ada.id, 11);
    let mut tx = begin(&db).await;
    tx.insert_passkey(&second).await.unwrap();
    tx.insert_passkey(&first).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.passkeys_of_user(ada.id).await.unwrap(),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(r.passkeys_of_user(bob.id).await.unwrap().is_empty());
    assert_eq!(
        r.passkey_by_credential_id(&first.credential_id)
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(r.passkey_by_credential_id(b"nope").await.unwrap(), None);
    drop(r);

    // The same credential cannot be registered twice, even for another account.
    let mut tx = begin(&db).await;
    let copy = PasskeyRecord {
        id: CredentialId::new_at(t(20), &SeededRandom::new(99)),
        user_id: bob.id,
        ..first.clone()
    };
    let err = tx.insert_passkey(&copy).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Duplicate {
                field: "credential_id"
            }
        ),
        "{err:?}"
    );
}

pub async fn passkey_update_is_compare_and_set_and_delete_is_per_user(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let key = passkey(1, ada.id, 10);
    let mut tx = begin(&db).await;
    tx.insert_passkey(&key).await.unwrap();
    tx.commit().await.unwrap();

    let used = PasskeyRecord {
        passkey_json: r#"{"cred":1,"counter":5}"#.into(),
        last_used_at: Some(t(30)),
        ..key.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_passkey(&used).await.unwrap());
    // A second writer that read version 1 loses.
    assert!(!tx.update_passkey(&used).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let stored = r.passkeys_of_user(ada.id).await.unwrap();
    assert_eq!(
        stored,
        vec![PasskeyRecord {
            version: 2,
            ..used.clone()
        }]
    );
    drop(r);

    let mut tx = begin(&db).await;
    assert!(
        !tx.delete_passkey(bob.id, key.id).await.unwrap(),
        "bob removed ada's passkey"
    );
    assert!(tx.delete_passkey(ada.id, key.id).await.unwrap());
    assert!(!tx.delete_passkey(ada.id, key.id).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert!(r.passkeys_of_user(ada.id).await.unwrap().is_empty());
}

pub async fn passkey_ceremony_is_taken_once_and_expires(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let live = ceremony("live", Some(ada.id), 300);
    let anonymous = ceremony("anonymous", None, 300);
    let old = ceremony("old", None, 5);
    let stale = ceremony("stale", None, 6);
    let mut tx = begin(&db).await;
    for c in [&live, &anonymous, &old, &stale] {
        tx.insert_passkey_ceremony(c).await.unwrap();
    }
    tx.commit().await.unwrap();

    // Expired at `now`: never handed out.
    let mut tx = begin(&db).await;
    assert_eq!(
        tx.take_passkey_ceremony(&stale.token_hash, t(10))
            .await
            .unwrap(),
        None,
        "an expired ceremony was handed out"
    );
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert_eq!(
        tx.take_passkey_ceremony(&live.token_hash, t(10))
            .await
            .unwrap(),
        Some(live.clone())
    );
    assert_eq!(
        tx.take_passkey_ceremony(&live.token_hash, t(10))
            .await
            .unwrap(),
        None,
        "a ceremony was handed out twice"
    );
    // The take at t(10) cleared the ceremony expired at t(5): even asked with an earlier
    // clock, it is gone.
    assert_eq!(
        tx.take_passkey_ceremony(&old.token_hash, t(0))
            .await
            .unwrap(),
        None,
        "an expired ceremony was not cleared"
    );
    assert_eq!(
        tx.take_passkey_ceremony(&SecretHash::of("forged"), t(10))
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();

    // A rolled-back take leaves the ceremony in place.
    let mut tx = begin(&db).await;
    assert!(
        tx.take_passkey_ceremony(&anonymous.token_hash, t(10))
            .await
            .unwrap()
            .is_some()
    );
    drop(tx);
    let mut tx = begin(&db).await;
    assert_eq!(
        tx.take_passkey_ceremony(&anonymous.token_hash, t(10))
            .await
            .unwrap(),
        Some(anonymous)
    );
    tx.commit().await.unwrap();
}

pub async fn passkey_ceremony_is_taken_once_under_concurrency(db: Arc<dyn Database>) {
    const RACERS: usize = 20;
    for round in 0..3 {
        let secret = format!("race-{round}");
        let mut tx = begin(&db).await;
        tx.insert_passkey_ceremony(&ceremony(&secret, None, 300))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let start = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for _ in 0..RACERS {
            let (db, start, token) = (db.clone(), start.clone(), SecretHash::of(&secret));
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let mut tx = db.begin().await?;
                let got = tx.take_passkey_ceremony(&token, t(10)).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(got.is_some())
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(
            winners, 1,
            "round {round}: {winners} callers took the ceremony"
        );
    }
}

pub async fn session_amr_update_is_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let token = SecretHash::of("session");
    let before: Vec<String> = ["pwd", "otp", "mfa"].map(String::from).to_vec();
    let session = PortalSession::signed_in_with(token.clone(), ada.id, t(0), None, before.clone());
    let mut tx = begin(&db).await;
    tx.insert_session(&session).await.unwrap();
    tx.commit().await.unwrap();

    let after: Vec<String> = ["pwd", "otp", "mfa", "hwk"].map(String::from).to_vec();
    let mut tx = begin(&db).await;
    assert!(
        tx.update_session_amr(&token, &before, &after)
            .await
            .unwrap()
    );
    assert!(
        !tx.update_session_amr(&token, &before, &after)
            .await
            .unwrap(),
        "a stale update won"
    );
    assert!(
        !tx.update_session_amr(&SecretHash::of("other"), &after, &before)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let stored = r.session_by_token(&token).await.unwrap().unwrap();
    assert_eq!(stored.amr, after);
}
