//! Conformance cases for the account lifecycle: compare-and-set users, user search and
//! pending deadlines here; invitations, self-registrations, settings, sessions per user and
//! audit per target in `conformance_lifecycle_records.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// A sibling file rather than a folder, like the other conformance files.
#[path = "conformance_lifecycle_records.rs"]
mod records;
pub use records::*;

use crate::conformance::sample_user;
use crate::{Database, StoreError, Tx, UserQuery};
use std::sync::Arc;
use tessera_domain::clock::from_unix;
use tessera_domain::user::{
    EmailAddress, MobileNumber, OffshoreDetails, User, UserState, UserType, Username,
};
use time::OffsetDateTime;

const T0: i64 = 1_800_000_000;

pub(crate) fn t(s: i64) -> OffsetDateTime {
    from_unix(T0 + s)
}

pub(crate) async fn begin(db: &Arc<dyn Database>) -> Box<dyn Tx> {
    db.begin().await.expect("begin")
}

pub(crate) fn email(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

/// `sample_user(n)` with the given name, type and state.
fn person(
    n: u32,
    username: &str,
    names: (&str, &str),
    address: &str,
    user_type: UserType,
    state: UserState,
) -> User {
    User {
        username: Username::parse(username).unwrap(),
        given_name: names.0.into(),
        family_name: names.1.into(),
        email: email(address),
        user_type,
        state,
        ..sample_user(n)
    }
}

pub(crate) async fn insert_users(db: &Arc<dyn Database>, users: &[&User]) {
    let mut tx = begin(db).await;
    for u in users {
        tx.insert_user(u).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn names(users: &[User]) -> Vec<String> {
    users.iter().map(|u| u.username.to_string()).collect()
}

// ---- users ------------------------------------------------------------------------------

pub async fn user_update_is_compare_and_set(db: Arc<dyn Database>) {
    let user = sample_user(1);
    insert_users(&db, &[&user]).await;

    let mut read = db.read().await.unwrap();
    let seen = read.user_by_id(user.id).await.unwrap().unwrap();
    drop(read);
    assert_eq!(seen.version, 1);

    let changed = User {
        state: UserState::Suspended,
        given_name: "Augusta".into(),
        mobile: None,
        password_hash: None,
        updated_at: t(100),
        // Not written by an update: the stored values stay.
        username: Username::parse("renamed").unwrap(),
        created_at: t(5000),
        ..seen.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        tx.update_user(&changed).await.unwrap(),
        "fresh version refused"
    );
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let stored = r.user_by_id(user.id).await.unwrap().unwrap();
    let want = User {
        username: user.username.clone(),
        created_at: user.created_at,
        version: 2,
        ..changed.clone()
    };
    assert_eq!(stored, want);
    drop(r);

    // A writer still holding version 1 is refused, and writes nothing.
    let stale = User {
        state: UserState::Terminated,
        given_name: "Stale".into(),
        updated_at: t(200),
        ..seen.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        !tx.update_user(&stale).await.unwrap(),
        "stale version accepted"
    );
    let unknown = User {
        id: sample_user(2).id,
        ..want.clone()
    };
    assert!(
        !tx.update_user(&unknown).await.unwrap(),
        "unknown user updated"
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(r.user_by_id(user.id).await.unwrap(), Some(want.clone()));
    drop(r);

    // The version just read works, once.
    let mut tx = begin(&db).await;
    let again = User {
        state: UserState::Active,
        ..want.clone()
    };
    assert!(tx.update_user(&again).await.unwrap());
    assert!(
        !tx.update_user(&again).await.unwrap(),
        "one version used twice"
    );
    assert_eq!(
        tx.user_by_id(user.id).await.unwrap().map(|u| u.version),
        Some(3)
    );
    tx.commit().await.unwrap();
}

pub async fn user_update_has_one_winner_under_concurrency(db: Arc<dyn Database>) {
    let user = sample_user(1);
    insert_users(&db, &[&user]).await;

    let mut tasks = Vec::new();
    for n in 0..20_i64 {
        let db = db.clone();
        let seen = user.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let mine = User {
                family_name: format!("Writer {n}"),
                reminders_sent: 1,
                updated_at: t(n),
                ..seen
            };
            let won = tx.update_user(&mine).await?;
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
    assert_eq!(winners.len(), 1, "{} concurrent updates won", winners.len());
    let mut r = db.read().await.unwrap();
    let stored = r.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(stored.family_name, format!("Writer {}", winners[0]));
    assert_eq!(stored.reminders_sent, 1);
}

pub async fn user_lifecycle_fields_round_trip(db: Arc<dyn Database>) {
    let sponsor = sample_user(1);
    let vendor = User {
        user_type: UserType::Vendor,
        state: UserState::Pending,
        email: email("Wei.Chen@Vendor.example.com"),
        mobile: Some(MobileNumber::parse("+8613812345678").unwrap()),
        password_is_initial: true,
        sponsor: Some(sponsor.id),
        offshore: Some(OffshoreDetails {
            in_odc: false,
            reporting_officer_name: Some("Tan Ah Kow".into()),
            reporting_officer_email: Some(email("Ah.Kow@tech.gov.sg")),
            company_address: Some("1 Jalan Besar\nSingapore 208787".into()),
        }),
        device_onboarding: true,
        activation_deadline: Some(t(30 * 86_400)),
        reminders_sent: 2,
        ..sample_user(2)
    };
    let in_odc = User {
        offshore: Some(OffshoreDetails {
            in_odc: true,
            ..OffshoreDetails::default()
        }),
        sponsor: Some(sponsor.id),
        version: 7,
        ..sample_user(3)
    };
    insert_users(&db, &[&sponsor, &vendor, &in_odc]).await;

    let mut r = db.read().await.unwrap();
    for u in [&sponsor, &vendor, &in_odc] {
        assert_eq!(r.user_by_id(u.id).await.unwrap().as_ref(), Some(u));
        assert_eq!(
            r.user_by_username(&u.username).await.unwrap().as_ref(),
            Some(u)
        );
    }
    assert_eq!(
        r.list_users(None, 10).await.unwrap(),
        vec![sponsor.clone(), vendor.clone(), in_odc.clone()]
    );
    drop(r);

    // An update can clear every optional field, and set them again.
    let cleared = User {
        password_is_initial: false,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
        activation_deadline: None,
        reminders_sent: 0,
        state: UserState::Active,
        ..vendor.clone()
    };
    let moved = User {
        offshore: Some(OffshoreDetails {
            in_odc: false,
            reporting_officer_name: None,
            reporting_officer_email: None,
            company_address: Some("Shenzhen".into()),
        }),
        activation_deadline: Some(t(99)),
        ..in_odc.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_user(&cleared).await.unwrap());
    assert!(tx.update_user(&moved).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.user_by_id(vendor.id).await.unwrap(),
        Some(User {
            version: 2,
            ..cleared
        })
    );
    assert_eq!(
        r.user_by_id(in_odc.id).await.unwrap(),
        Some(User {
            version: 8,
            ..moved
        })
    );
}

pub async fn users_are_found_by_email_without_regard_to_case(db: Arc<dyn Database>) {
    let first = User {
        email: email("Ada.Lovelace@agency.gov.sg"),
        ..sample_user(1)
    };
    let terminated = User {
        email: email("ada.lovelace@AGENCY.gov.sg"),
        state: UserState::Terminated,
        ..sample_user(2)
    };
    let other = User {
        email: email("ada.lovelace@agency.gov.sg.evil.com"),
        ..sample_user(3)
    };
    insert_users(&db, &[&first, &terminated, &other]).await;
    let mut r = db.read().await.unwrap();
    let found = r
        .users_by_email(&email("ADA.LOVELACE@Agency.Gov.SG"))
        .await
        .unwrap();
    assert_eq!(found, vec![first, terminated]);
    assert!(
        r.users_by_email(&email("ada@agency.gov.sg"))
            .await
            .unwrap()
            .is_empty()
    );
}

fn directory() -> Vec<User> {
    use UserState::{Active, Pending, Suspended};
    use UserType::{Officer, Vendor};
    vec![
        person(
            1,
            "alice",
            ("Alice", "Tan"),
            "alice@tech.gov.sg",
            Officer,
            Active,
        ),
        person(
            2,
            "bob",
            ("Bob", "Lim"),
            "bob@hq.tech.gov.sg",
            Officer,
            Pending,
        ),
        person(
            3,
            "carol",
            ("Carol", "Ng"),
            "carol@fintech.gov.sg",
            Vendor,
            Active,
        ),
        person(
            4,
            "dan_x",
            ("Dan", "100% Sure"),
            "dan@vendor.com",
            Vendor,
            Suspended,
        ),
        person(
            5,
            "erin",
            ("ERIN", "O'Brien"),
            "Erin.X@Tech.gov.sg",
            Officer,
            Active,
        ),
        person(
            6,
            "frank",
            ("Frank", "Tech"),
            "frank@vendor.com",
            Vendor,
            Pending,
        ),
    ]
}

async fn search(db: &Arc<dyn Database>, q: UserQuery) -> Vec<String> {
    let mut r = db.read().await.unwrap();
    names(&r.search_users(&UserQuery { limit: 50, ..q }).await.unwrap())
}

pub async fn search_users_filters_and_pages(db: Arc<dyn Database>) {
    let people = directory();
    insert_users(&db, &people.iter().collect::<Vec<_>>()).await;
    let text = |s: &str| UserQuery {
        text: Some(s.into()),
        ..UserQuery::default()
    };
    let agency = |s: &str| UserQuery {
        agency: Some(s.into()),
        ..UserQuery::default()
    };

    // Everything, in username order.
    assert_eq!(
        search(&db, UserQuery::default()).await,
        ["alice", "bob", "carol", "dan_x", "erin", "frank"]
    );
    // Text: any of username, given name, family name, email; any case.
    assert_eq!(search(&db, text("TAN")).await, ["alice"]);
    assert_eq!(search(&db, text("erin")).await, ["erin"]);
    assert_eq!(search(&db, text("rin.x@tech")).await, ["erin"]);
    assert_eq!(search(&db, text("o'bri")).await, ["erin"]);
    assert_eq!(
        search(&db, text("tech")).await,
        ["alice", "bob", "carol", "erin", "frank"]
    );
    assert!(search(&db, text("nobody")).await.is_empty());
    // State and type.
    let pending = UserQuery {
        state: Some(UserState::Pending),
        ..UserQuery::default()
    };
    assert_eq!(search(&db, pending).await, ["bob", "frank"]);
    let vendors = UserQuery {
        user_type: Some(UserType::Vendor),
        ..UserQuery::default()
    };
    assert_eq!(search(&db, vendors).await, ["carol", "dan_x", "frank"]);
    // Agency: the domain or a subdomain, never a domain that merely ends the same way.
    assert_eq!(
        search(&db, agency("tech.gov.sg")).await,
        ["alice", "bob", "erin"]
    );
    assert_eq!(
        search(&db, agency("Tech.GOV.sg")).await,
        ["alice", "bob", "erin"]
    );
    assert_eq!(search(&db, agency("hq.tech.gov.sg")).await, ["bob"]);
    assert_eq!(
        search(&db, agency("gov.sg")).await,
        ["alice", "bob", "carol", "erin"]
    );
    assert!(search(&db, agency("ech.gov.sg")).await.is_empty());
    assert!(search(&db, agency("sg.tech.gov.sg")).await.is_empty());
    // Filters combine.
    let combined = UserQuery {
        agency: Some("tech.gov.sg".into()),
        state: Some(UserState::Active),
        user_type: Some(UserType::Officer),
        text: Some("E".into()),
        ..UserQuery::default()
    };
    assert_eq!(search(&db, combined).await, ["alice", "erin"]);

    // Keyset pages, with and without filters.
    let mut r = db.read().await.unwrap();
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = r
            .search_users(&UserQuery {
                after: after.clone(),
                limit: 4,
                ..UserQuery::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|u| u.username.clone());
        pages.push(names(&page));
    }
    assert_eq!(
        pages,
        vec![
            vec!["alice", "bob", "carol", "dan_x"],
            vec!["erin", "frank"]
        ]
    );
    let page = r
        .search_users(&UserQuery {
            agency: Some("tech.gov.sg".into()),
            after: Some(Username::parse("alice").unwrap()),
            limit: 1,
            ..UserQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(names(&page), ["bob"]);
    assert!(
        r.search_users(&UserQuery {
            limit: 0,
            ..UserQuery::default()
        })
        .await
        .unwrap()
        .is_empty()
    );
}

pub async fn search_users_takes_wildcards_literally(db: Arc<dyn Database>) {
    let people = directory();
    let backslash = person(
        7,
        "gina",
        ("Gina", r"Back\slash"),
        "gina@vendor.com",
        UserType::Vendor,
        UserState::Active,
    );
    let mut all: Vec<&User> = people.iter().collect();
    all.push(&backslash);
    insert_users(&db, &all).await;
    let text = |s: &str| UserQuery {
        text: Some(s.into()),
        ..UserQuery::default()
    };
    assert_eq!(search(&db, text("%")).await, ["dan_x"]);
    assert_eq!(search(&db, text("100%")).await, ["dan_x"]);
    assert_eq!(search(&db, text("0% s")).await, ["dan_x"]);
    assert_eq!(search(&db, text("_")).await, ["dan_x"]);
    assert_eq!(search(&db, text("n_x")).await, ["dan_x"]);
    assert!(
        search(&db, text("a_i")).await.is_empty(),
        "_ matched any letter"
    );
    assert!(
        search(&db, text("a%e")).await.is_empty(),
        "% matched anything"
    );
    assert_eq!(search(&db, text(r"k\s")).await, ["gina"]);
    assert_eq!(search(&db, text(r"\")).await, ["gina"]);
    let agency = UserQuery {
        agency: Some("%".into()),
        ..UserQuery::default()
    };
    assert!(search(&db, agency).await.is_empty(), "% matched a domain");
    let agency = UserQuery {
        agency: Some("vendor_com".into()),
        ..UserQuery::default()
    };
    assert!(search(&db, agency).await.is_empty(), "_ matched a dot");
}

pub async fn pending_users_due_soonest_first(db: Arc<dyn Database>) {
    let due = |n: u32, state: UserState, deadline: Option<i64>| User {
        state,
        activation_deadline: deadline.map(t),
        ..sample_user(n)
    };
    let later = due(1, UserState::Pending, Some(300));
    let sooner = due(2, UserState::Pending, Some(100));
    let after_cutoff = due(3, UserState::Pending, Some(301));
    let active = due(4, UserState::Active, Some(50));
    let no_deadline = due(5, UserState::Pending, None);
    let terminated = due(6, UserState::Terminated, Some(10));
    insert_users(
        &db,
        &[
            &later,
            &sooner,
            &after_cutoff,
            &active,
            &no_deadline,
            &terminated,
        ],
    )
    .await;
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.pending_users_due(t(300), 10).await.unwrap(),
        vec![sooner.clone(), later.clone()]
    );
    assert_eq!(
        r.pending_users_due(t(300), 1).await.unwrap(),
        vec![sooner.clone()]
    );
    assert!(r.pending_users_due(t(99), 10).await.unwrap().is_empty());
    assert_eq!(
        names(&r.pending_users_due(t(1_000_000), 10).await.unwrap()),
        ["user002", "user001", "user003"]
    );
}
