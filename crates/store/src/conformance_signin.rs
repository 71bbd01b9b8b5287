//! Conformance cases for sign-in and onboarding: TOTP keys, sign-ins in progress and
//! lockout counters here; code challenges, policies, sessions per user and the phone
//! check in `conformance_signin_records.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// A sibling file rather than a folder, like the other conformance files.
#[path = "conformance_signin_records.rs"]
mod records;
pub use records::*;

use crate::conformance::sample_user;
use crate::conformance_lifecycle::{begin, insert_users, t};
use crate::{Database, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_domain::lockout::{LockoutPolicy, LockoutState};
use tessera_domain::mfa::TotpCredential;
use tessera_domain::secret::SecretHash;
use tessera_domain::signin_flow::SignInFlow;
use tessera_domain::{CredentialId, SeededRandom, UserId};
use time::Duration;

fn totp(n: u32, user: UserId, created: i64) -> TotpCredential {
    TotpCredential {
        id: CredentialId::new_at(t(created), &SeededRandom::new(2000 + u64::from(n))),
        user_id: user,
        sealed_secret: vec![u8::try_from(n).unwrap(); 48],
        label: format!("Authenticator {n}"),
        created_at: t(created),
        confirmed_at: None,
        last_used_step: 0,
        version: 1,
    }
}

fn flow(secret: &str, expires: i64) -> SignInFlow {
    SignInFlow {
        token_hash: SecretHash::of(secret),
        username: "Ada.Typed".into(),
        user_id: None,
        created_at: t(0),
        expires_at: t(expires),
        password_at: None,
        second_factor_at: None,
        amr: Vec::new(),
        return_to: "/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc".into(),
        version: 1,
    }
}

// ---- TOTP keys --------------------------------------------------------------------------

pub async fn totp_keys_round_trip_oldest_first(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let newer = totp(1, ada.id, 200);
    let older = TotpCredential {
        confirmed_at: Some(t(150)),
        last_used_step: 60_000_005,
        version: 4,
        ..totp(2, ada.id, 100)
    };
    let bobs = totp(3, bob.id, 50);
    let mut tx = begin(&db).await;
    for c in [&newer, &older, &bobs] {
        tx.insert_totp(c).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.totp_of_user(ada.id).await.unwrap(),
        vec![older.clone(), newer.clone()]
    );
    assert_eq!(r.totp_of_user(bob.id).await.unwrap(), vec![bobs]);
    assert!(r.totp_of_user(sample_user(3).id).await.unwrap().is_empty());
}

pub async fn totp_update_is_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let enrolling = totp(1, ada.id, 0);
    let mut tx = begin(&db).await;
    tx.insert_totp(&enrolling).await.unwrap();
    tx.commit().await.unwrap();

    // The first valid code confirms the key and uses its step.
    let confirmed = TotpCredential {
        label: "Phone".into(),
        confirmed_at: Some(t(30)),
        last_used_step: 60_000_001,
        // Not written by an update: the stored values stay.
        sealed_secret: vec![9; 48],
        created_at: t(999),
        ..enrolling.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        tx.update_totp(&confirmed).await.unwrap(),
        "fresh version refused"
    );
    // A second node that read the same version (the same code replayed) loses.
    let replay = TotpCredential {
        last_used_step: 60_000_001,
        confirmed_at: Some(t(31)),
        ..enrolling.clone()
    };
    assert!(
        !tx.update_totp(&replay).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();

    let want = TotpCredential {
        sealed_secret: enrolling.sealed_secret.clone(),
        created_at: enrolling.created_at,
        version: 2,
        ..confirmed.clone()
    };
    let mut r = db.read().await.unwrap();
    assert_eq!(r.totp_of_user(ada.id).await.unwrap(), vec![want.clone()]);
    drop(r);

    let next = TotpCredential {
        last_used_step: 60_000_002,
        ..want.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_totp(&next).await.unwrap());
    assert!(
        !tx.update_totp(&next).await.unwrap(),
        "one version used twice"
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.totp_of_user(ada.id).await.unwrap(),
        vec![TotpCredential { version: 3, ..next }]
    );
}

pub async fn totp_code_is_accepted_once_under_concurrency(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let key = TotpCredential {
        confirmed_at: Some(t(0)),
        ..totp(1, ada.id, 0)
    };
    let mut tx = begin(&db).await;
    tx.insert_totp(&key).await.unwrap();
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for n in 0..20_i64 {
        let db = db.clone();
        let seen = key.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let used = TotpCredential {
                last_used_step: 1000 + n,
                ..seen
            };
            let won = tx.update_totp(&used).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(won.then_some(n))
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        if let Some(n) = task.await.unwrap().unwrap() {
            winners.push(n);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "one code accepted {} times",
        winners.len()
    );
    let mut r = db.read().await.unwrap();
    let stored = r.totp_of_user(ada.id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].version, 2);
    assert_eq!(stored[0].last_used_step, 1000 + winners[0]);
}

pub async fn totp_delete_removes_only_that_users_key(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let adas = totp(1, ada.id, 0);
    let adas_second = totp(2, ada.id, 10);
    let bobs = totp(3, bob.id, 0);
    let mut tx = begin(&db).await;
    for c in [&adas, &adas_second, &bobs] {
        tx.insert_totp(c).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert!(
        !tx.delete_totp(bob.id, adas.id).await.unwrap(),
        "removed another user's key"
    );
    assert!(tx.delete_totp(ada.id, adas.id).await.unwrap());
    assert!(!tx.delete_totp(ada.id, adas.id).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(r.totp_of_user(ada.id).await.unwrap(), vec![adas_second]);
    assert_eq!(r.totp_of_user(bob.id).await.unwrap(), vec![bobs]);
}

// ---- sign-ins in progress ---------------------------------------------------------------

pub async fn sign_in_flows_round_trip_with_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let started = flow("flow-cookie", 1800);
    let mut tx = begin(&db).await;
    tx.insert_sign_in_flow(&started).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.sign_in_flow(&started.token_hash).await.unwrap(),
        Some(started.clone())
    );
    assert_eq!(
        r.sign_in_flow(&SecretHash::of("other")).await.unwrap(),
        None
    );
    drop(r);

    // The password step names the account.
    let password = SignInFlow {
        user_id: Some(ada.id),
        password_at: Some(t(20)),
        amr: vec!["pwd".into()],
        return_to: "/portal".into(),
        expires_at: t(1900),
        // Not written by an update: the stored values stay.
        username: "someone.else".into(),
        created_at: t(777),
        ..started.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_sign_in_flow(&password).await.unwrap());
    assert!(
        !tx.update_sign_in_flow(&started).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();
    let after_password = SignInFlow {
        username: started.username.clone(),
        created_at: started.created_at,
        version: 2,
        ..password
    };
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.sign_in_flow(&started.token_hash).await.unwrap(),
        Some(after_password.clone())
    );
    drop(r);

    // The second factor completes it; every optional field can be set and cleared.
    let second = SignInFlow {
        second_factor_at: Some(t(40)),
        amr: vec!["pwd".into(), "otp".into()],
        ..after_password.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_sign_in_flow(&second).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let stored = r.sign_in_flow(&started.token_hash).await.unwrap().unwrap();
    assert_eq!(
        stored,
        SignInFlow {
            version: 3,
            ..second
        }
    );
    assert_eq!(stored.password_user(), Some(ada.id));
    drop(r);
    let cleared = SignInFlow {
        user_id: None,
        password_at: None,
        second_factor_at: None,
        amr: Vec::new(),
        ..stored
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_sign_in_flow(&cleared).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.sign_in_flow(&started.token_hash).await.unwrap(),
        Some(SignInFlow {
            version: 4,
            ..cleared
        })
    );
}

pub async fn sign_in_flow_finishes_once_under_concurrency(db: Arc<dyn Database>) {
    let finishing = flow("finishing", 1800);
    let other = flow("other-browser", 1800);
    let mut tx = begin(&db).await;
    tx.insert_sign_in_flow(&finishing).await.unwrap();
    tx.insert_sign_in_flow(&other).await.unwrap();
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        let token = finishing.token_hash.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let won = tx.delete_sign_in_flow(&token).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(won)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "a sign-in finished {winners} times");
    let mut r = db.read().await.unwrap();
    assert_eq!(r.sign_in_flow(&finishing.token_hash).await.unwrap(), None);
    assert_eq!(
        r.sign_in_flow(&other.token_hash).await.unwrap(),
        Some(other)
    );
}

pub async fn expired_sign_in_flows_are_removed(db: Arc<dyn Database>) {
    let flows = [flow("a", 100), flow("b", 200), flow("c", 300)];
    let mut tx = begin(&db).await;
    for f in &flows {
        tx.insert_sign_in_flow(f).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert_eq!(
        tx.delete_sign_in_flows_expired_before(t(100))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tx.delete_sign_in_flows_expired_before(t(201))
            .await
            .unwrap(),
        2
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(r.sign_in_flow(&flows[0].token_hash).await.unwrap(), None);
    assert_eq!(r.sign_in_flow(&flows[1].token_hash).await.unwrap(), None);
    assert_eq!(
        r.sign_in_flow(&flows[2].token_hash).await.unwrap(),
        Some(flows[2].clone())
    );
}

// ---- lockout ----------------------------------------------------------------------------

/// Three failures within ten minutes lock for fifteen.
const POLICY: LockoutPolicy = LockoutPolicy {
    max_failures: 3,
    lock_for: Duration::minutes(15),
    window: Duration::minutes(10),
};

fn state(failures: u32, locked_until: Option<i64>) -> LockoutState {
    LockoutState {
        failures,
        locked_until: locked_until.map(t),
    }
}

async fn fail(
    db: &Arc<dyn Database>,
    subject: &str,
    policy: &LockoutPolicy,
    at: i64,
) -> LockoutState {
    let mut tx = begin(db).await;
    let after = tx.record_failure(subject, policy, t(at)).await.unwrap();
    tx.commit().await.unwrap();
    after
}

async fn lockout(db: &Arc<dyn Database>, subject: &str) -> LockoutState {
    let mut r = db.read().await.unwrap();
    r.lockout(subject).await.unwrap()
}

pub async fn lockout_counts_failures_then_locks(db: Arc<dyn Database>) {
    let subject = "password:user:ada";
    assert_eq!(lockout(&db, subject).await, state(0, None));
    assert_eq!(fail(&db, subject, &POLICY, 0).await, state(1, None));
    assert_eq!(fail(&db, subject, &POLICY, 10).await, state(2, None));
    assert_eq!(lockout(&db, subject).await, state(2, None));
    // Other subjects count apart, and do not share a prefix's count.
    assert_eq!(
        fail(&db, "password:user:adam", &POLICY, 11).await,
        state(1, None)
    );
    assert_eq!(fail(&db, "mfa:user:ada", &POLICY, 11).await, state(1, None));

    // The third failure starts the lock and resets the count.
    let locked = state(0, Some(20 + 900));
    assert_eq!(fail(&db, subject, &POLICY, 20).await, locked);
    assert_eq!(lockout(&db, subject).await, locked);
    assert!(locked.is_locked(t(919)) && !locked.is_locked(t(920)));
    // While locked, failures change nothing.
    assert_eq!(fail(&db, subject, &POLICY, 21).await, locked);
    assert_eq!(fail(&db, subject, &POLICY, 919).await, locked);
    assert_eq!(lockout(&db, subject).await, locked);
    // Once the lock ends, counting starts again.
    assert_eq!(fail(&db, subject, &POLICY, 920).await, state(1, None));
    assert_eq!(fail(&db, subject, &POLICY, 921).await, state(2, None));
    assert_eq!(
        fail(&db, subject, &POLICY, 922).await,
        state(0, Some(922 + 900))
    );
    assert_eq!(lockout(&db, "password:user:adam").await, state(1, None));
}

pub async fn lockout_forgets_failures_older_than_the_window(db: Arc<dyn Database>) {
    // The window runs from the first failure counted in it.
    assert_eq!(fail(&db, "a", &POLICY, 0).await, state(1, None));
    assert_eq!(fail(&db, "a", &POLICY, 300).await, state(2, None));
    assert_eq!(fail(&db, "a", &POLICY, 600).await, state(1, None));
    assert_eq!(fail(&db, "a", &POLICY, 601).await, state(2, None));
    assert_eq!(
        fail(&db, "a", &POLICY, 1199).await,
        state(0, Some(1199 + 900))
    );
    // Just inside the window: still counted.
    assert_eq!(fail(&db, "b", &POLICY, 0).await, state(1, None));
    assert_eq!(fail(&db, "b", &POLICY, 1).await, state(2, None));
    assert_eq!(
        fail(&db, "b", &POLICY, 599).await,
        state(0, Some(599 + 900))
    );
}

pub async fn lockout_clear_forgets_failures_and_lock(db: Arc<dyn Database>) {
    for at in 0..3 {
        fail(&db, "locked", &POLICY, at).await;
    }
    fail(&db, "counting", &POLICY, 0).await;
    fail(&db, "other", &POLICY, 0).await;
    assert!(lockout(&db, "locked").await.is_locked(t(3)));

    let mut tx = begin(&db).await;
    tx.clear_lockout("locked").await.unwrap();
    tx.clear_lockout("counting").await.unwrap();
    tx.clear_lockout("never-failed").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(lockout(&db, "locked").await, state(0, None));
    assert_eq!(lockout(&db, "counting").await, state(0, None));
    assert_eq!(lockout(&db, "other").await, state(1, None));
    assert_eq!(fail(&db, "locked", &POLICY, 4).await, state(1, None));

    // A clear that is rolled back leaves the lock in place.
    for at in 5..7 {
        fail(&db, "locked", &POLICY, at).await;
    }
    let mut tx = begin(&db).await;
    tx.clear_lockout("locked").await.unwrap();
    drop(tx);
    assert_eq!(lockout(&db, "locked").await, state(0, Some(6 + 900)));
}

/// Runs `failures` concurrent failures of one subject, the n-th at `at(n)`.
async fn fail_concurrently(
    db: &Arc<dyn Database>,
    policy: LockoutPolicy,
    failures: i64,
    at: fn(i64) -> i64,
) -> Vec<LockoutState> {
    let mut tasks = Vec::new();
    for n in 0..failures {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let after = tx.record_failure("contended", &policy, t(at(n))).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(after)
        }));
    }
    let mut states = Vec::new();
    for task in tasks {
        states.push(task.await.unwrap().unwrap());
    }
    states
}

pub async fn lockout_counts_every_concurrent_failure(db: Arc<dyn Database>) {
    let lenient = LockoutPolicy {
        max_failures: 100,
        ..POLICY
    };
    let states = fail_concurrently(&db, lenient, 20, |_| 5).await;
    let mut counts: Vec<u32> = states.iter().map(|s| s.failures).collect();
    counts.sort_unstable();
    assert_eq!(
        counts,
        (1..=20).collect::<Vec<u32>>(),
        "concurrent failures were lost or counted twice"
    );
    assert!(states.iter().all(|s| s.locked_until.is_none()));
    assert_eq!(lockout(&db, "contended").await, state(20, None));
}

pub async fn lockout_starts_once_under_concurrency(db: Arc<dyn Database>) {
    let account = LockoutPolicy {
        max_failures: 5,
        lock_for: Duration::hours(1),
        window: Duration::hours(1),
    };
    // Each failure at its own second, so two lock starts would show two lock ends.
    let states = fail_concurrently(&db, account, 20, |n| n).await;
    let mut counting: Vec<u32> = states
        .iter()
        .filter(|s| s.locked_until.is_none())
        .map(|s| s.failures)
        .collect();
    counting.sort_unstable();
    assert_eq!(
        counting,
        [1, 2, 3, 4],
        "failures before the lock: {states:?}"
    );
    let ends: BTreeSet<_> = states.iter().filter_map(|s| s.locked_until).collect();
    assert_eq!(ends.len(), 1, "the lock started {} times", ends.len());
    assert!(
        states
            .iter()
            .filter(|s| s.locked_until.is_some())
            .all(|s| s.failures == 0)
    );
    let stored = lockout(&db, "contended").await;
    assert_eq!(stored.failures, 0);
    assert_eq!(stored.locked_until, ends.first().copied());
}
