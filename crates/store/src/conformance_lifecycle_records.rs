//! Conformance cases for invitations, self-registrations, settings, sessions per user and
//! audit per target (registered through `conformance_lifecycle`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::{begin, email, insert_users, t};
use crate::conformance::sample_user;
use crate::{Database, InvitationQuery, StoreError};
use std::sync::Arc;
use tessera_domain::audit::{Actor, AuditEvent, Outcome};
use tessera_domain::invitation::{Invitation, InvitationStatus, InvitationTerms};
use tessera_domain::secret::SecretHash;
use tessera_domain::self_registration::SelfRegistration;
use tessera_domain::session::{Assurance, PortalSession};
use tessera_domain::user::{User, UserType, Username};
use tessera_domain::{InvitationId, SeededRandom, SelfRegistrationId, UserId};

fn invitation(n: u32, sponsor: UserId, token: &str) -> Invitation {
    Invitation {
        id: InvitationId::new_at(t(n.into()), &SeededRandom::new(700 + u64::from(n))),
        email: email(&format!("Vendor{n}@Vendor.com")),
        sponsor,
        user_type: UserType::Vendor,
        terms: InvitationTerms::new(n.is_multiple_of(2), n.is_multiple_of(4), true),
        token_hash: SecretHash::of(token),
        status: InvitationStatus::Sent,
        registered_user: None,
        sends: 1,
        created_at: t(n.into()),
        expires_at: t(i64::from(n) + 5 * 86_400),
        updated_at: t(n.into()),
        version: 1,
    }
}

fn self_registration(n: u32, address: &str, token: &str) -> SelfRegistration {
    SelfRegistration {
        id: SelfRegistrationId::new_at(t(n.into()), &SeededRandom::new(900 + u64::from(n))),
        email: email(address),
        token_hash: SecretHash::of(token),
        code_mac: [u8::try_from(n % 256).unwrap(); 32],
        code_expires_at: t(i64::from(n) + 600),
        attempts: 0,
        sends: 1,
        last_sent_at: t(n.into()),
        verified_at: None,
        completed_user: None,
        created_at: t(n.into()),
        version: 1,
    }
}

// ---- invitations ------------------------------------------------------------------------

fn q(
    sponsor: Option<UserId>,
    status: Option<InvitationStatus>,
    before: Option<InvitationId>,
    limit: u32,
) -> InvitationQuery {
    InvitationQuery {
        sponsor,
        status,
        before,
        limit,
    }
}

async fn sponsor(db: &Arc<dyn Database>, n: u32) -> User {
    let s = sample_user(n);
    insert_users(db, &[&s]).await;
    s
}

pub async fn invitations_round_trip_by_id_and_token(db: Arc<dyn Database>) {
    let s = sponsor(&db, 1).await;
    let plain = invitation(1, s.id, "link-1");
    let offshore = invitation(4, s.id, "link-4");
    assert!(offshore.terms.offshore && offshore.terms.odc && offshore.terms.seed);
    let mut tx = begin(&db).await;
    tx.insert_invitation(&plain).await.unwrap();
    tx.insert_invitation(&offshore).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    for i in [&plain, &offshore] {
        assert_eq!(r.invitation_by_id(i.id).await.unwrap().as_ref(), Some(i));
        assert_eq!(
            r.invitation_by_token(&i.token_hash).await.unwrap().as_ref(),
            Some(i)
        );
    }
    assert_eq!(
        r.invitation_by_token(&SecretHash::of("forged"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        r.invitation_by_id(invitation(9, s.id, "x").id)
            .await
            .unwrap(),
        None
    );
    drop(r);

    // A link's hash names one invitation.
    let mut tx = begin(&db).await;
    let err = tx
        .insert_invitation(&invitation(2, s.id, "link-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "token" }),
        "{err:?}"
    );
}

pub async fn invitation_update_is_compare_and_set(db: Arc<dyn Database>) {
    let s = sponsor(&db, 1).await;
    let sent = invitation(1, s.id, "first-link");
    let mut tx = begin(&db).await;
    tx.insert_invitation(&sent).await.unwrap();
    tx.commit().await.unwrap();

    // Resend: a new link replaces the old one.
    let resent = Invitation {
        token_hash: SecretHash::of("second-link"),
        sends: 2,
        expires_at: t(10 * 86_400),
        updated_at: t(86_400),
        ..sent.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_invitation(&resent).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.invitation_by_token(&sent.token_hash).await.unwrap(),
        None,
        "the old link still works after a resend"
    );
    let stored = r
        .invitation_by_token(&resent.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored,
        Invitation {
            version: 2,
            ..resent.clone()
        }
    );
    drop(r);

    // A stale writer (still at version 1) is refused and writes nothing.
    let stale = Invitation {
        status: InvitationStatus::Revoked,
        token_hash: SecretHash::of("third-link"),
        ..sent.clone()
    };
    let mut tx = begin(&db).await;
    assert!(
        !tx.update_invitation(&stale).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.invitation_by_id(sent.id).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        r.invitation_by_token(&SecretHash::of("third-link"))
            .await
            .unwrap(),
        None
    );
    drop(r);

    // The account is checked at commit: a claim naming no account does not commit.
    let dangling = Invitation {
        status: InvitationStatus::Registered,
        registered_user: Some(sample_user(99).id),
        ..stored.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_invitation(&dangling).await.unwrap());
    assert!(
        tx.commit().await.is_err(),
        "an invitation names an account that does not exist"
    );

    // Registration records the account.
    let person = sample_user(2);
    let registered = Invitation {
        status: InvitationStatus::Registered,
        registered_user: Some(person.id),
        updated_at: t(2 * 86_400),
        ..stored.clone()
    };
    let mut tx = begin(&db).await;
    tx.insert_user(&person).await.unwrap();
    assert!(tx.update_invitation(&registered).await.unwrap());
    assert!(
        !tx.update_invitation(&registered).await.unwrap(),
        "one version used twice"
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.invitation_by_id(sent.id).await.unwrap(),
        Some(Invitation {
            version: 3,
            ..registered
        })
    );
}

pub async fn invitation_is_registered_once_under_concurrency(db: Arc<dyn Database>) {
    let s = sponsor(&db, 1).await;
    let sent = invitation(1, s.id, "contended-link");
    let mut tx = begin(&db).await;
    tx.insert_invitation(&sent).await.unwrap();
    tx.commit().await.unwrap();

    // Twenty submits of one link: each reads the invitation, then tries to use the
    // version it read and make its account in one transaction. Half claim the invitation
    // first and then make the account (the account is checked at commit), all with the same
    // username as a re-submitted form would; half make their account first. Losers see
    // `false`, never an error.
    let mut tasks = Vec::new();
    for n in 0..20_u32 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut r = db.read().await?;
            let seen = r
                .invitation_by_token(&SecretHash::of("contended-link"))
                .await?;
            drop(r);
            let Some(seen) = seen.filter(|i| i.is_usable(t(60))) else {
                return Ok::<_, StoreError>(false);
            };
            let claim_first = n.is_multiple_of(2);
            let username = if claim_first {
                "registrant".to_owned()
            } else {
                format!("registrant{n}")
            };
            let person = User {
                username: Username::parse(&username).unwrap(),
                ..sample_user(100 + n)
            };
            let used = Invitation {
                status: InvitationStatus::Registered,
                registered_user: Some(person.id),
                updated_at: t(60),
                ..seen
            };
            let mut tx = db.begin().await?;
            if claim_first {
                if !tx.update_invitation(&used).await? {
                    return Ok(false);
                }
                tx.insert_user(&person).await?;
            } else {
                tx.insert_user(&person).await?;
                if !tx.update_invitation(&used).await? {
                    // Dropping the transaction rolls the account back.
                    return Ok(false);
                }
            }
            tx.commit().await?;
            Ok(true)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "one invitation registered {winners} accounts");
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.count_users().await.unwrap(),
        2,
        "sponsor and one registrant"
    );
    let stored = r.invitation_by_id(sent.id).await.unwrap().unwrap();
    assert_eq!(stored.status, InvitationStatus::Registered);
    assert_eq!(stored.version, 2);
    let account = stored.registered_user.expect("registered user");
    assert!(r.user_by_id(account).await.unwrap().is_some());
}

pub async fn invitations_list_newest_first_in_pages(db: Arc<dyn Database>) {
    let first = sponsor(&db, 1).await;
    let second = sponsor(&db, 2).await;
    let mut all = Vec::new();
    for n in 1..=7_u32 {
        let by = if n <= 5 { first.id } else { second.id };
        let mut i = invitation(n, by, &format!("link-{n}"));
        if n == 2 || n == 4 || n == 6 {
            i.status = InvitationStatus::Revoked;
        }
        all.push(i);
    }
    let mut tx = begin(&db).await;
    // Inserted out of order: the order comes from the ids (time-ordered), not insertion.
    for n in [4, 7, 1, 6, 2, 5, 3] {
        tx.insert_invitation(&all[n - 1]).await.unwrap();
    }
    tx.commit().await.unwrap();
    let id = |n: usize| all[n - 1].id;
    let ids = |list: Vec<Invitation>| list.into_iter().map(|i| i.id).collect::<Vec<_>>();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        ids(r.list_invitations(&q(None, None, None, 50)).await.unwrap()),
        [id(7), id(6), id(5), id(4), id(3), id(2), id(1)]
    );
    assert_eq!(
        r.list_invitations(&q(None, None, None, 50)).await.unwrap()[0],
        all[6]
    );
    // One sponsor's, in pages.
    let by_first = |before| q(Some(first.id), None, before, 2);
    assert_eq!(
        ids(r.list_invitations(&by_first(None)).await.unwrap()),
        [id(5), id(4)]
    );
    assert_eq!(
        ids(r.list_invitations(&by_first(Some(id(4)))).await.unwrap()),
        [id(3), id(2)]
    );
    assert_eq!(
        ids(r.list_invitations(&by_first(Some(id(2)))).await.unwrap()),
        [id(1)]
    );
    assert!(
        r.list_invitations(&by_first(Some(id(1))))
            .await
            .unwrap()
            .is_empty()
    );
    // By status, alone and with a sponsor.
    let revoked = Some(InvitationStatus::Revoked);
    assert_eq!(
        ids(r
            .list_invitations(&q(None, revoked, None, 50))
            .await
            .unwrap()),
        [id(6), id(4), id(2)]
    );
    assert_eq!(
        ids(r
            .list_invitations(&q(Some(second.id), revoked, None, 50))
            .await
            .unwrap()),
        [id(6)]
    );
    assert_eq!(
        ids(r
            .list_invitations(&q(
                Some(first.id),
                Some(InvitationStatus::Sent),
                Some(id(5)),
                50
            ))
            .await
            .unwrap()),
        [id(3), id(1)]
    );
    assert!(
        r.list_invitations(&q(None, Some(InvitationStatus::Registered), None, 50))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn invitations_past_expiry_oldest_first(db: Arc<dyn Database>) {
    let s = sponsor(&db, 1).await;
    let with = |n: u32, status: InvitationStatus, expires: i64| Invitation {
        status,
        expires_at: t(expires),
        ..invitation(n, s.id, &format!("link-{n}"))
    };
    let at_now = with(1, InvitationStatus::Sent, 100);
    let earlier = with(2, InvitationStatus::Sent, 50);
    let later = with(3, InvitationStatus::Sent, 101);
    let registered = with(4, InvitationStatus::Registered, 10);
    let revoked = with(5, InvitationStatus::Revoked, 20);
    let expired = with(6, InvitationStatus::Expired, 30);
    let mut tx = begin(&db).await;
    for i in [&at_now, &earlier, &later, &registered, &revoked, &expired] {
        tx.insert_invitation(i).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.invitations_past_expiry(t(100), 10).await.unwrap(),
        vec![earlier.clone(), at_now.clone()]
    );
    assert_eq!(
        r.invitations_past_expiry(t(100), 1).await.unwrap(),
        vec![earlier.clone()]
    );
    assert!(
        r.invitations_past_expiry(t(49), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- self-registration, settings ----------------------------------------------------------

pub async fn self_registrations_round_trip_with_compare_and_set(db: Arc<dyn Database>) {
    let request = self_registration(1, "Ada@Tech.gov.sg", "browser-secret");
    let mut tx = begin(&db).await;
    tx.insert_self_registration(&request).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.self_registration_by_token(&request.token_hash)
            .await
            .unwrap(),
        Some(request.clone())
    );
    assert_eq!(
        r.self_registration_by_token(&SecretHash::of("other"))
            .await
            .unwrap(),
        None
    );
    drop(r);

    // A wrong code counts an attempt; a stale writer cannot undo it.
    let tried = SelfRegistration {
        attempts: 1,
        ..request.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_self_registration(&tried).await.unwrap());
    assert!(
        !tx.update_self_registration(&request).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();
    let tried = SelfRegistration {
        version: 2,
        ..tried
    };

    // A new code, then the right one, then the account.
    let person = sample_user(1);
    let resent = SelfRegistration {
        code_mac: [0xAB; 32],
        code_expires_at: t(700),
        sends: 2,
        last_sent_at: t(100),
        ..tried.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_self_registration(&resent).await.unwrap());
    let verified = SelfRegistration {
        verified_at: Some(t(120)),
        attempts: 2,
        version: 3,
        ..resent.clone()
    };
    assert!(tx.update_self_registration(&verified).await.unwrap());
    tx.insert_user(&person).await.unwrap();
    let done = SelfRegistration {
        completed_user: Some(person.id),
        version: 4,
        ..verified.clone()
    };
    assert!(tx.update_self_registration(&done).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.self_registration_by_token(&request.token_hash)
            .await
            .unwrap(),
        Some(SelfRegistration { version: 5, ..done })
    );
    drop(r);

    let mut tx = begin(&db).await;
    let err = tx
        .insert_self_registration(&self_registration(2, "x@tech.gov.sg", "browser-secret"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "token" }),
        "{err:?}"
    );
}

pub async fn self_registrations_are_counted_per_address(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    for (n, address) in [
        (0, "Ada@tech.gov.sg"),
        (100, "ada@TECH.gov.sg"),
        (200, "ADA@tech.gov.sg"),
        (150, "bob@tech.gov.sg"),
        (160, "ada@tech.gov.sg.example.com"),
    ] {
        let token = format!("token-{n}");
        tx.insert_self_registration(&self_registration(n, address, &token))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let ada = email("aDa@Tech.Gov.Sg");
    assert_eq!(
        r.count_self_registrations_since(&ada, t(0)).await.unwrap(),
        3
    );
    assert_eq!(
        r.count_self_registrations_since(&ada, t(100))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        r.count_self_registrations_since(&ada, t(201))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        r.count_self_registrations_since(&email("carol@tech.gov.sg"), t(0))
            .await
            .unwrap(),
        0
    );
}

pub async fn settings_are_put_and_replaced(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    assert_eq!(tx.setting("lifecycle").await.unwrap(), None);
    tx.put_setting("lifecycle", r#"{"invitation_days":5}"#, t(0))
        .await
        .unwrap();
    tx.put_setting("branding", r#"{"name":"Tessera"}"#, t(0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert_eq!(
        tx.setting("lifecycle").await.unwrap().as_deref(),
        Some(r#"{"invitation_days":5}"#)
    );
    tx.put_setting("lifecycle", r#"{"invitation_days":7}"#, t(10))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.setting("lifecycle").await.unwrap().as_deref(),
        Some(r#"{"invitation_days":7}"#)
    );
    assert_eq!(
        r.setting("branding").await.unwrap().as_deref(),
        Some(r#"{"name":"Tessera"}"#)
    );
    assert_eq!(r.setting("Lifecycle").await.unwrap(), None);
    assert!(
        r.put_setting("lifecycle", "{}", t(20)).await.is_err(),
        "a read handle accepted a write"
    );
}

// ---- sessions and audit -----------------------------------------------------------------

pub async fn sessions_of_a_user_end_together(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    let mut tx = begin(&db).await;
    tx.insert_user(&ada).await.unwrap();
    tx.insert_user(&bob).await.unwrap();
    for n in 0..3 {
        let token = SecretHash::of(&format!("ada-{n}"));
        tx.insert_session(&PortalSession::new(token, ada.id, t(n), None))
            .await
            .unwrap();
    }
    let bobs = SecretHash::of("bob-0");
    tx.insert_session(&PortalSession::new(bobs.clone(), bob.id, t(0), None))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert_eq!(tx.delete_sessions_of_user(ada.id).await.unwrap(), 3);
    assert_eq!(tx.delete_sessions_of_user(ada.id).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    for n in 0..3 {
        let token = SecretHash::of(&format!("ada-{n}"));
        assert!(r.session_by_token(&token).await.unwrap().is_none());
    }
    assert!(r.session_by_token(&bobs).await.unwrap().is_some());
}

pub async fn session_assurance_round_trips(db: Arc<dyn Database>) {
    let user = sample_user(1);
    let by_code = PortalSession::by_email_code(
        SecretHash::of("code-session"),
        user.id,
        t(0),
        Some("2001:db8::1".into()),
    );
    let by_password = PortalSession::new(SecretHash::of("pw-session"), user.id, t(0), None);
    let mut tx = begin(&db).await;
    tx.insert_user(&user).await.unwrap();
    tx.insert_session(&by_code).await.unwrap();
    tx.insert_session(&by_password).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let found = r
        .session_by_token(&by_code.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.assurance, Assurance::EmailCode);
    assert!(!found.is_signed_in());
    assert_eq!(found.source_ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(found.expires_at, by_code.expires_at);
    let found = r
        .session_by_token(&by_password.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.assurance, Assurance::Password);
    // A password alone is a sign-in still in its second step.
    assert!(!found.is_signed_in());
}

pub async fn audit_for_target_is_newest_first_and_limited(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    for n in 0..9_i64 {
        let target = match n % 3 {
            0 => Some("user:ada"),
            1 => Some("user:bob"),
            _ => None,
        };
        let mut event = AuditEvent::new(t(n), &Actor::System, "user.change", Outcome::Success);
        if let Some(target) = target {
            event = event.target(target);
        }
        tx.append_audit(&event).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let seqs = |records: Vec<tessera_domain::audit::AuditRecord>| {
        records.iter().map(|rec| rec.seq).collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(r.audit_for_target("user:ada", 10).await.unwrap()),
        [7, 4, 1]
    );
    assert_eq!(
        seqs(r.audit_for_target("user:bob", 2).await.unwrap()),
        [8, 5]
    );
    let newest = r.audit_for_target("user:ada", 1).await.unwrap();
    assert_eq!(newest[0].event.target.as_deref(), Some("user:ada"));
    assert_eq!(newest[0].event.at, t(6));
    assert!(
        r.audit_for_target("user:carol", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(r.audit_for_target("user:", 10).await.unwrap().is_empty());
}
