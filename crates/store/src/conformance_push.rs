//! Conformance cases for push approval: single-use enrolment tokens, device keys with
//! compare-and-set, and number-matching challenges (open ones, decided once, counted).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance::sample_user;
use crate::conformance_lifecycle::{begin, insert_users, t};
use crate::{Database, StoreError};
use std::future::Future;
use std::sync::Arc;
use tessera_domain::push::{
    ChallengeStatus, DeviceKeyAlg, PushChallenge, PushDevice, PushEnrolment,
};
use tessera_domain::secret::SecretHash;
use tessera_domain::user::User;
use tessera_domain::{PushChallengeId, PushDeviceId, SeededRandom, UserId};
use tokio::sync::Barrier;

fn enrolment(secret: &str, user: UserId, expires: i64) -> PushEnrolment {
    PushEnrolment {
        token_hash: SecretHash::of(secret),
        user_id: user,
        created_at: t(0),
        expires_at: t(expires),
        device_id: None,
    }
}

fn device(n: u32, user: UserId, alg: DeviceKeyAlg, created: i64) -> PushDevice {
    let byte = u8::try_from(n).unwrap();
    let public_key = match alg {
        // An uncompressed SEC1 point: 0x04, then x and y.
        DeviceKeyAlg::Es256 => [vec![4], vec![byte; 64]].concat(),
        DeviceKeyAlg::EdDsa => vec![byte; 32],
    };
    PushDevice {
        id: PushDeviceId::new_at(t(created), &SeededRandom::new(4000 + u64::from(n))),
        user_id: user,
        name: format!("Phone {n}"),
        alg,
        public_key,
        created_at: t(created),
        confirmed_at: None,
        last_used_at: None,
        version: 1,
    }
}

fn challenge(n: u32, user: UserId, created: i64) -> PushChallenge {
    PushChallenge {
        id: PushChallengeId::new_at(t(created), &SeededRandom::new(5000 + u64::from(n))),
        user_id: user,
        number: 10 + u8::try_from(n % 90).unwrap(),
        app_name: "Tessera portal".into(),
        source_ip: Some("203.0.113.7".into()),
        created_at: t(created),
        expires_at: t(created + 60),
        status: ChallengeStatus::Pending,
        wrong_numbers: 0,
        decided_at: None,
        decided_by: None,
        flow_token_hash: Some(SecretHash::of(&format!("flow-{n}"))),
        version: 1,
    }
}

/// Registers each device with a fresh enrolment of its own user, at `t(0)`.
async fn enrol(db: &Arc<dyn Database>, devices: &[&PushDevice]) {
    let mut tx = begin(db).await;
    for d in devices {
        let secret = format!("enrol-{}", d.id);
        tx.insert_push_enrolment(&enrolment(&secret, d.user_id, 600))
            .await
            .unwrap();
        assert!(
            tx.register_push_device(&SecretHash::of(&secret), d, t(0))
                .await
                .unwrap(),
            "a fresh enrolment was refused"
        );
    }
    tx.commit().await.unwrap();
}

async fn insert_challenges(db: &Arc<dyn Database>, challenges: &[&PushChallenge]) {
    let mut tx = begin(db).await;
    for c in challenges {
        tx.insert_push_challenge(c).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn devices_of(db: &Arc<dyn Database>, user: &User) -> Vec<PushDevice> {
    let mut r = db.read().await.unwrap();
    r.push_devices_of_user(user.id).await.unwrap()
}

/// Contenders per race, and races per concurrency case.
const RACERS: u32 = 20;
const ROUNDS: u32 = 3;

/// Runs `RACERS` attempts made by `attempt(n)` at once, released together, and returns
/// what the ones that won returned.
async fn race<F, Fut, T>(attempt: F) -> Vec<T>
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<Option<T>, StoreError>> + Send + 'static,
    T: Send + 'static,
{
    let start = Arc::new(Barrier::new(RACERS as usize));
    let mut tasks = Vec::new();
    for n in 0..RACERS {
        let start = start.clone();
        let attempt = attempt(n);
        tasks.push(tokio::spawn(async move {
            // Released together; a barrier inside the transaction would deadlock SQLite,
            // whose writers queue for its one write connection.
            start.wait().await;
            attempt.await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.unwrap().unwrap());
    }
    winners
}

async fn stored_challenge(db: &Arc<dyn Database>, id: PushChallengeId) -> Option<PushChallenge> {
    let mut r = db.read().await.unwrap();
    r.push_challenge(id).await.unwrap()
}

// ---- enrolment --------------------------------------------------------------------------

pub async fn push_enrolment_registers_one_device(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let token = enrolment("qr-token", ada.id, 600);
    let mut tx = begin(&db).await;
    tx.insert_push_enrolment(&token).await.unwrap();
    tx.commit().await.unwrap();
    let phone = device(1, ada.id, DeviceKeyAlg::Es256, 10);
    let tablet = device(2, ada.id, DeviceKeyAlg::EdDsa, 11);

    // A token nobody was given, and ada's token for a device that names bob, spend nothing.
    let mut tx = begin(&db).await;
    assert!(
        !tx.register_push_device(&SecretHash::of("forged"), &phone, t(10))
            .await
            .unwrap()
    );
    let bobs = device(3, bob.id, DeviceKeyAlg::Es256, 10);
    assert!(
        !tx.register_push_device(&token.token_hash, &bobs, t(10))
            .await
            .unwrap(),
        "ada's token registered a device for bob"
    );
    tx.commit().await.unwrap();
    assert!(devices_of(&db, &bob).await.is_empty());

    // A registration that is rolled back leaves the token unused.
    let mut tx = begin(&db).await;
    assert!(
        tx.register_push_device(&token.token_hash, &tablet, t(10))
            .await
            .unwrap()
    );
    drop(tx);
    assert!(devices_of(&db, &ada).await.is_empty());

    let mut tx = begin(&db).await;
    assert!(
        tx.register_push_device(&token.token_hash, &phone, t(10))
            .await
            .unwrap()
    );
    assert!(
        !tx.register_push_device(&token.token_hash, &tablet, t(11))
            .await
            .unwrap(),
        "an enrolment token registered a second device"
    );
    tx.commit().await.unwrap();
    let mut tx = begin(&db).await;
    assert!(
        !tx.register_push_device(&token.token_hash, &tablet, t(12))
            .await
            .unwrap(),
        "a used enrolment token worked in a later transaction"
    );
    // The token is the key: the same token cannot be issued twice.
    let err = tx
        .insert_push_enrolment(&enrolment("qr-token", bob.id, 900))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "token" }),
        "{err:?}"
    );
    drop(tx);
    assert_eq!(devices_of(&db, &ada).await, vec![phone.clone()]);
    let mut r = db.read().await.unwrap();
    assert_eq!(r.push_device(phone.id).await.unwrap(), Some(phone));
    assert_eq!(r.push_device(tablet.id).await.unwrap(), None);
}

pub async fn expired_push_enrolment_is_refused(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let token = enrolment("short-lived", ada.id, 600);
    let mut tx = begin(&db).await;
    tx.insert_push_enrolment(&token).await.unwrap();
    tx.commit().await.unwrap();

    let phone = device(1, ada.id, DeviceKeyAlg::EdDsa, 600);
    let mut tx = begin(&db).await;
    // Expired at its expiry instant, and after.
    for at in [600, 601, 10_000] {
        assert!(
            !tx.register_push_device(&token.token_hash, &phone, t(at))
                .await
                .unwrap(),
            "an expired enrolment token worked at t({at})"
        );
    }
    tx.commit().await.unwrap();
    assert!(devices_of(&db, &ada).await.is_empty());

    // The last second before expiry still works.
    let mut tx = begin(&db).await;
    assert!(
        tx.register_push_device(&token.token_hash, &phone, t(599))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(devices_of(&db, &ada).await, vec![phone]);
}

pub async fn push_enrolment_is_single_use_under_concurrency(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let mut winners = Vec::new();
    // Several rounds: the first also fills the connection pool, so later rounds race on
    // warm connections rather than queueing for new ones.
    for round in 0..ROUNDS {
        let token = enrolment(&format!("contended-qr-{round}"), ada.id, 600);
        let mut tx = begin(&db).await;
        tx.insert_push_enrolment(&token).await.unwrap();
        tx.commit().await.unwrap();

        let won = race(|n| {
            let db = db.clone();
            let token = token.token_hash.clone();
            let candidate = device(round * RACERS + n, ada.id, DeviceKeyAlg::Es256, 5);
            async move {
                let mut tx = db.begin().await?;
                let won = tx.register_push_device(&token, &candidate, t(5)).await?;
                tx.commit().await?;
                Ok(won.then_some(candidate.id))
            }
        })
        .await;
        assert_eq!(
            won.len(),
            1,
            "one enrolment token registered {} devices",
            won.len()
        );
        winners.extend(won);
    }
    let mut stored: Vec<_> = devices_of(&db, &ada).await.iter().map(|d| d.id).collect();
    stored.sort();
    winners.sort();
    assert_eq!(
        stored, winners,
        "the stored devices are not the registrations that won"
    );
}

// ---- devices ----------------------------------------------------------------------------

pub async fn push_devices_round_trip_oldest_first(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let newer = device(1, ada.id, DeviceKeyAlg::EdDsa, 200);
    let older = PushDevice {
        name: "Ada's phone — Pixel".into(),
        confirmed_at: Some(t(110)),
        last_used_at: Some(t(150)),
        version: 4,
        ..device(2, ada.id, DeviceKeyAlg::Es256, 100)
    };
    let bobs = device(3, bob.id, DeviceKeyAlg::EdDsa, 50);
    // Registered newest first, so the order cannot come from insertion.
    enrol(&db, &[&newer, &older, &bobs]).await;

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.push_devices_of_user(ada.id).await.unwrap(),
        vec![older.clone(), newer.clone()]
    );
    assert_eq!(r.push_devices_of_user(bob.id).await.unwrap(), vec![bobs]);
    assert!(
        r.push_devices_of_user(sample_user(3).id)
            .await
            .unwrap()
            .is_empty()
    );
    let es256 = r.push_device(older.id).await.unwrap().unwrap();
    assert_eq!(
        (es256.alg, es256.public_key.len()),
        (DeviceKeyAlg::Es256, 65)
    );
    assert_eq!(es256, older);
    let eddsa = r.push_device(newer.id).await.unwrap().unwrap();
    assert_eq!(
        (eddsa.alg, eddsa.public_key.len()),
        (DeviceKeyAlg::EdDsa, 32)
    );
    assert_eq!(eddsa, newer);
    let unknown = PushDeviceId::new_at(t(0), &SeededRandom::new(1));
    assert_eq!(r.push_device(unknown).await.unwrap(), None);
}

pub async fn push_device_update_is_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let enrolled = device(1, ada.id, DeviceKeyAlg::Es256, 0);
    enrol(&db, &[&enrolled]).await;

    // The first signed approval confirms the device.
    let confirmed = PushDevice {
        name: "Work phone".into(),
        confirmed_at: Some(t(30)),
        last_used_at: Some(t(30)),
        // Not written by an update: the stored values stay.
        alg: DeviceKeyAlg::EdDsa,
        public_key: vec![9; 32],
        created_at: t(999),
        ..enrolled.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        tx.update_push_device(&confirmed).await.unwrap(),
        "fresh version refused"
    );
    let stale = PushDevice {
        last_used_at: Some(t(31)),
        ..enrolled.clone()
    };
    assert!(
        !tx.update_push_device(&stale).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();
    let want = PushDevice {
        alg: enrolled.alg,
        public_key: enrolled.public_key.clone(),
        created_at: enrolled.created_at,
        version: 2,
        ..confirmed
    };
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.push_device(enrolled.id).await.unwrap(),
        Some(want.clone())
    );
    drop(r);

    // Optional fields can be cleared again.
    let cleared = PushDevice {
        confirmed_at: None,
        last_used_at: None,
        ..want.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_push_device(&cleared).await.unwrap());
    assert!(
        !tx.update_push_device(&cleared).await.unwrap(),
        "one version written twice"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        devices_of(&db, &ada).await,
        vec![PushDevice {
            version: 3,
            ..cleared
        }]
    );
}

pub async fn push_device_delete_removes_only_that_users_device(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let adas = device(1, ada.id, DeviceKeyAlg::Es256, 0);
    let adas_second = device(2, ada.id, DeviceKeyAlg::EdDsa, 10);
    let bobs = device(3, bob.id, DeviceKeyAlg::Es256, 0);
    enrol(&db, &[&adas, &adas_second, &bobs]).await;

    let mut tx = begin(&db).await;
    assert!(
        !tx.delete_push_device(bob.id, adas.id).await.unwrap(),
        "removed another user's device"
    );
    assert!(tx.delete_push_device(ada.id, adas.id).await.unwrap());
    assert!(!tx.delete_push_device(ada.id, adas.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(devices_of(&db, &ada).await, vec![adas_second]);
    assert_eq!(devices_of(&db, &bob).await, vec![bobs]);
    let mut r = db.read().await.unwrap();
    assert_eq!(r.push_device(adas.id).await.unwrap(), None);
    drop(r);

    // Removing the device does not make its enrolment token usable again.
    let mut tx = begin(&db).await;
    let secret = SecretHash::of(&format!("enrol-{}", adas.id));
    assert!(
        !tx.register_push_device(&secret, &device(4, ada.id, DeviceKeyAlg::Es256, 20), t(20))
            .await
            .unwrap(),
        "a removed device's token registered another"
    );
    tx.commit().await.unwrap();
}

// ---- challenges -------------------------------------------------------------------------

pub async fn push_challenges_round_trip(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let phone = device(1, ada.id, DeviceKeyAlg::Es256, 0);
    let full = PushChallenge {
        number: 99,
        status: ChallengeStatus::Reported,
        wrong_numbers: 2,
        decided_at: Some(t(45)),
        decided_by: Some(phone.id),
        version: 3,
        ..challenge(1, ada.id, 0)
    };
    let bare = PushChallenge {
        number: 10,
        app_name: "Leave system".into(),
        source_ip: None,
        flow_token_hash: None,
        ..challenge(2, ada.id, 5)
    };
    insert_challenges(&db, &[&full, &bare]).await;

    assert_eq!(stored_challenge(&db, full.id).await, Some(full));
    assert_eq!(stored_challenge(&db, bare.id).await, Some(bare.clone()));
    let unknown = PushChallengeId::new_at(t(0), &SeededRandom::new(1));
    assert_eq!(stored_challenge(&db, unknown).await, None);

    let mut tx = begin(&db).await;
    let err = tx.insert_push_challenge(&bare).await.unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { .. }), "{err:?}");
}

pub async fn open_push_challenges_are_pending_unexpired_oldest_first(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    // Created at 0 and 10, both open until 60 and 70.
    let first = challenge(1, ada.id, 0);
    let second = challenge(2, ada.id, 10);
    let decided = |n, status| PushChallenge {
        status,
        decided_at: Some(t(15)),
        ..challenge(n, ada.id, 5)
    };
    let approved = decided(3, ChallengeStatus::Approved);
    let denied = decided(4, ChallengeStatus::Denied);
    let reported = decided(5, ChallengeStatus::Reported);
    let expired = challenge(6, ada.id, -100);
    let bobs = challenge(7, bob.id, 1);
    // Inserted newest first, so the order cannot come from insertion.
    insert_challenges(
        &db,
        &[
            &second, &bobs, &approved, &first, &denied, &reported, &expired,
        ],
    )
    .await;

    let mut r = db.read().await.unwrap();
    let open = |list: Vec<PushChallenge>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        open(r.open_push_challenges(ada.id, t(20)).await.unwrap()),
        [first.id, second.id]
    );
    assert_eq!(
        r.open_push_challenges(ada.id, t(20)).await.unwrap()[0],
        first
    );
    // A challenge is closed at its expiry instant.
    assert_eq!(
        open(r.open_push_challenges(ada.id, t(59)).await.unwrap()),
        [first.id, second.id]
    );
    assert_eq!(
        open(r.open_push_challenges(ada.id, t(60)).await.unwrap()),
        [second.id]
    );
    assert!(
        r.open_push_challenges(ada.id, t(70))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        open(r.open_push_challenges(bob.id, t(20)).await.unwrap()),
        [bobs.id]
    );
    assert!(
        r.open_push_challenges(sample_user(3).id, t(20))
            .await
            .unwrap()
            .is_empty()
    );
    drop(r);

    // Deciding a challenge closes it.
    let mut tx = begin(&db).await;
    let approve = PushChallenge {
        status: ChallengeStatus::Approved,
        decided_at: Some(t(21)),
        ..first.clone()
    };
    assert!(tx.update_push_challenge(&approve).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        open(r.open_push_challenges(ada.id, t(22)).await.unwrap()),
        [second.id]
    );
}

pub async fn push_challenge_update_is_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let phone = device(1, ada.id, DeviceKeyAlg::EdDsa, 0);
    let asked = challenge(1, ada.id, 0);
    insert_challenges(&db, &[&asked]).await;

    // A wrong number: counted, still pending.
    let wrong = PushChallenge {
        wrong_numbers: 1,
        // Not written by an update: the stored values stay.
        number: 77,
        app_name: "Something else".into(),
        source_ip: None,
        created_at: t(500),
        expires_at: t(9999),
        flow_token_hash: None,
        ..asked.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        tx.update_push_challenge(&wrong).await.unwrap(),
        "fresh version refused"
    );
    let stale = PushChallenge {
        status: ChallengeStatus::Approved,
        decided_at: Some(t(20)),
        decided_by: Some(phone.id),
        ..asked.clone()
    };
    assert!(
        !tx.update_push_challenge(&stale).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();
    let after_wrong = PushChallenge {
        wrong_numbers: 1,
        version: 2,
        ..asked.clone()
    };
    assert_eq!(
        stored_challenge(&db, asked.id).await,
        Some(after_wrong.clone())
    );

    // The right number approves it; the decision is recorded.
    let approved = PushChallenge {
        status: ChallengeStatus::Approved,
        decided_at: Some(t(30)),
        decided_by: Some(phone.id),
        ..after_wrong.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_push_challenge(&approved).await.unwrap());
    assert!(
        !tx.update_push_challenge(&approved).await.unwrap(),
        "one version written twice"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        stored_challenge(&db, asked.id).await,
        Some(PushChallenge {
            version: 3,
            ..approved
        })
    );

    // Each status round trips through an update.
    let mut current = stored_challenge(&db, asked.id).await.unwrap();
    for status in [
        ChallengeStatus::Denied,
        ChallengeStatus::Reported,
        ChallengeStatus::Pending,
    ] {
        let next = PushChallenge {
            status,
            decided_at: None,
            decided_by: None,
            ..current.clone()
        };
        let mut tx = begin(&db).await;
        assert!(tx.update_push_challenge(&next).await.unwrap());
        tx.commit().await.unwrap();
        current = stored_challenge(&db, asked.id).await.unwrap();
        assert_eq!(
            current,
            PushChallenge {
                version: next.version + 1,
                ..next
            }
        );
    }
}

pub async fn push_challenge_is_decided_once_under_concurrency(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let bystander = challenge(99, ada.id, 1);
    insert_challenges(&db, &[&bystander]).await;
    for round in 0..ROUNDS {
        let asked = challenge(round, ada.id, 0);
        insert_challenges(&db, &[&asked]).await;
        // Approvals of the version every node read, each by its own device and second.
        let won = race(|n| {
            let db = db.clone();
            let approve = PushChallenge {
                status: ChallengeStatus::Approved,
                decided_at: Some(t(10 + i64::from(n))),
                decided_by: Some(device(n, ada.id, DeviceKeyAlg::Es256, 0).id),
                ..asked.clone()
            };
            async move {
                let mut tx = db.begin().await?;
                let won = tx.update_push_challenge(&approve).await?;
                tx.commit().await?;
                Ok(won.then_some(approve))
            }
        })
        .await;
        assert_eq!(
            won.len(),
            1,
            "one challenge was approved {} times",
            won.len()
        );
        assert_eq!(
            stored_challenge(&db, asked.id).await,
            Some(PushChallenge {
                version: 2,
                ..won[0].clone()
            })
        );
    }
    assert_eq!(stored_challenge(&db, bystander.id).await, Some(bystander));
}

pub async fn push_challenges_are_counted_since(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let denied = PushChallenge {
        status: ChallengeStatus::Denied,
        ..challenge(2, ada.id, 100)
    };
    insert_challenges(
        &db,
        &[
            &challenge(1, ada.id, 0),
            &denied,
            &challenge(3, ada.id, 200),
            &challenge(4, ada.id, 300),
            &challenge(5, bob.id, 250),
        ],
    )
    .await;

    let mut r = db.read().await.unwrap();
    // Every status counts, and `since` itself is included.
    for (since, want) in [
        (-1, 4),
        (0, 4),
        (1, 3),
        (100, 3),
        (101, 2),
        (300, 1),
        (301, 0),
    ] {
        assert_eq!(
            r.count_push_challenges_since(ada.id, t(since))
                .await
                .unwrap(),
            want,
            "challenges since t({since})"
        );
    }
    assert_eq!(
        r.count_push_challenges_since(bob.id, t(0)).await.unwrap(),
        1
    );
    assert_eq!(
        r.count_push_challenges_since(sample_user(3).id, t(0))
            .await
            .unwrap(),
        0
    );
}
