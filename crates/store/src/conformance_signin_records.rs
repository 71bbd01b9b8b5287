//! Conformance cases for SMS code challenges, policy documents and acceptances, a user's
//! sessions with their methods, and the time a phone number was proven.

use crate::Database;
use crate::StoreError;
use crate::conformance::sample_user;
use crate::conformance_lifecycle::{begin, insert_users, t};
use std::sync::Arc;
use tessera_domain::code_challenge::{CodeChallenge, CodePurpose};
use tessera_domain::policy::{PolicyAcceptance, PolicyDocument, PolicyKind};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::{Assurance, PortalSession};
use tessera_domain::user::User;
use tessera_domain::{CodeChallengeId, SeededRandom, UserId};
use time::Duration;

// ---- code challenges --------------------------------------------------------------------

fn challenge(n: u32, user: UserId, purpose: CodePurpose, created: i64) -> CodeChallenge {
    CodeChallenge {
        id: CodeChallengeId::new_at(t(created), &SeededRandom::new(3000 + u64::from(n))),
        purpose,
        user_id: user,
        target: "+6591234567".into(),
        code_mac: [u8::try_from(n).unwrap(); 32],
        created_at: t(created),
        expires_at: t(created + 600),
        attempts: 0,
        sends: 1,
        last_sent_at: t(created),
        verified_at: None,
        version: 1,
    }
}

pub async fn code_challenges_latest_by_purpose(db: Arc<dyn Database>) {
    use CodePurpose::{MobileChange, PasswordReset, PhoneVerification};
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let first = challenge(1, ada.id, PhoneVerification, 0);
    let newest = CodeChallenge {
        attempts: 2,
        sends: 3,
        last_sent_at: t(160),
        verified_at: Some(t(170)),
        version: 5,
        ..challenge(2, ada.id, PhoneVerification, 100)
    };
    let reset = challenge(3, ada.id, PasswordReset, 50);
    let bobs = challenge(4, bob.id, PhoneVerification, 200);
    let mut tx = begin(&db).await;
    // Inserted newest first, so the answer cannot come from insertion order.
    for c in [&bobs, &newest, &reset, &first] {
        tx.insert_code_challenge(c).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.latest_code_challenge(ada.id, PhoneVerification)
            .await
            .unwrap(),
        Some(newest)
    );
    assert_eq!(
        r.latest_code_challenge(ada.id, PasswordReset)
            .await
            .unwrap(),
        Some(reset)
    );
    assert_eq!(
        r.latest_code_challenge(ada.id, MobileChange).await.unwrap(),
        None
    );
    assert_eq!(
        r.latest_code_challenge(bob.id, PhoneVerification)
            .await
            .unwrap(),
        Some(bobs)
    );
    assert_eq!(
        r.latest_code_challenge(sample_user(3).id, PhoneVerification)
            .await
            .unwrap(),
        None
    );
}

pub async fn code_challenge_update_is_compare_and_set(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    insert_users(&db, &[&ada]).await;
    let sent = challenge(1, ada.id, CodePurpose::MobileChange, 0);
    let mut tx = begin(&db).await;
    tx.insert_code_challenge(&sent).await.unwrap();
    tx.commit().await.unwrap();

    // A wrong code counts an attempt; a stale writer cannot undo it.
    let tried = CodeChallenge {
        attempts: 1,
        ..sent.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_code_challenge(&tried).await.unwrap());
    assert!(
        !tx.update_code_challenge(&sent).await.unwrap(),
        "stale version accepted"
    );
    tx.commit().await.unwrap();

    // A resend to a corrected number replaces the code; then the right code verifies.
    let resent = CodeChallenge {
        target: "+6598765432".into(),
        code_mac: [42; 32],
        expires_at: t(700),
        attempts: 0,
        sends: 2,
        last_sent_at: t(100),
        version: 2,
        // Not written by an update: the stored values stay.
        purpose: CodePurpose::PasswordReset,
        created_at: t(999),
        ..tried.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_code_challenge(&resent).await.unwrap());
    let verified = CodeChallenge {
        verified_at: Some(t(130)),
        purpose: CodePurpose::MobileChange,
        created_at: t(0),
        version: 3,
        ..resent.clone()
    };
    assert!(tx.update_code_challenge(&verified).await.unwrap());
    assert!(
        !tx.update_code_challenge(&verified).await.unwrap(),
        "one version used twice"
    );
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.latest_code_challenge(ada.id, CodePurpose::MobileChange)
            .await
            .unwrap(),
        Some(CodeChallenge {
            version: 4,
            ..verified
        })
    );
    assert_eq!(
        r.latest_code_challenge(ada.id, CodePurpose::PasswordReset)
            .await
            .unwrap(),
        None
    );
}

// ---- policies ---------------------------------------------------------------------------

fn policy(kind: PolicyKind, version: i32, published: i64) -> PolicyDocument {
    PolicyDocument {
        kind,
        version,
        title: format!("{} v{version}", kind.title()),
        body: format!("# {}\n\nVersion {version}, with *Markdown*.", kind.title()),
        published_at: t(published),
        published_by: "admin001".into(),
    }
}

pub async fn policies_are_published_as_versions(db: Arc<dyn Database>) {
    use PolicyKind::{MdmAup, Privacy, Terms};
    let mut r = db.read().await.unwrap();
    assert!(r.current_policies().await.unwrap().is_empty());
    assert!(r.policy_versions(Terms).await.unwrap().is_empty());
    drop(r);

    let privacy1 = policy(Privacy, 1, 0);
    let privacy2 = policy(Privacy, 2, 100);
    let terms1 = policy(Terms, 1, 0);
    // Versions compare as numbers: 10 is newer than 9, and newer than a later-published 9.
    let terms9 = policy(Terms, 9, 300);
    let terms10 = policy(Terms, 10, 200);
    let mut tx = begin(&db).await;
    for d in [&terms10, &privacy1, &terms1, &privacy2, &terms9] {
        tx.insert_policy(d).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    let again = PolicyDocument {
        body: "Another text under a published number".into(),
        ..policy(Privacy, 2, 400)
    };
    let err = tx.insert_policy(&again).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "version" }),
        "{err:?}"
    );
    drop(tx);

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.current_policies().await.unwrap(),
        vec![privacy2.clone(), terms10.clone()]
    );
    assert_eq!(
        r.policy_versions(Privacy).await.unwrap(),
        vec![privacy2.clone(), privacy1.clone()]
    );
    assert_eq!(
        r.policy_versions(Terms).await.unwrap(),
        vec![terms10.clone(), terms9, terms1]
    );
    assert!(r.policy_versions(MdmAup).await.unwrap().is_empty());
    drop(r);

    // The same number in another kind is no duplicate; every kind is listed, in order.
    let mdm1 = policy(MdmAup, 1, 500);
    let mut tx = begin(&db).await;
    tx.insert_policy(&mdm1).await.unwrap();
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.current_policies().await.unwrap(),
        vec![privacy2, terms10, mdm1]
    );
}

pub async fn policy_acceptance_is_idempotent_and_listed(db: Arc<dyn Database>) {
    use PolicyKind::{Privacy, Terms};
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let accept = |user: &User, kind, version, at| PolicyAcceptance {
        user_id: user.id,
        kind,
        version,
        accepted_at: t(at),
    };
    let mut tx = begin(&db).await;
    for d in [
        policy(Privacy, 1, 0),
        policy(Terms, 1, 0),
        policy(Privacy, 2, 35),
    ] {
        tx.insert_policy(&d).await.unwrap();
    }
    tx.record_acceptance(&accept(&ada, Terms, 1, 20))
        .await
        .unwrap();
    tx.record_acceptance(&accept(&ada, Privacy, 1, 10))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Accepting again keeps the first time, also from another transaction.
    let mut tx = begin(&db).await;
    tx.record_acceptance(&accept(&ada, Privacy, 1, 30))
        .await
        .unwrap();
    tx.record_acceptance(&accept(&ada, Privacy, 2, 40))
        .await
        .unwrap();
    tx.record_acceptance(&accept(&bob, Terms, 1, 50))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.acceptances_of(ada.id).await.unwrap(),
        vec![
            accept(&ada, Privacy, 1, 10),
            accept(&ada, Terms, 1, 20),
            accept(&ada, Privacy, 2, 40),
        ]
    );
    assert_eq!(
        r.acceptances_of(bob.id).await.unwrap(),
        vec![accept(&bob, Terms, 1, 50)]
    );
    assert!(
        r.acceptances_of(sample_user(3).id)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---- sessions and users -----------------------------------------------------------------

/// Every field of a session, for comparison (`PortalSession` has no `PartialEq`).
fn fields(
    s: &PortalSession,
) -> (
    SecretHash,
    UserId,
    [time::OffsetDateTime; 3],
    Option<String>,
    Assurance,
    Vec<String>,
) {
    (
        s.token_hash.clone(),
        s.user_id,
        [s.created_at, s.last_seen_at, s.expires_at],
        s.source_ip.clone(),
        s.assurance,
        s.amr.clone(),
    )
}

pub async fn sessions_of_user_newest_first_with_amr(db: Arc<dyn Database>) {
    let ada = sample_user(1);
    let bob = sample_user(2);
    insert_users(&db, &[&ada, &bob]).await;
    let password = PortalSession::new(SecretHash::of("pw"), ada.id, t(0), None);
    let mfa = PortalSession::signed_in_with(
        SecretHash::of("mfa"),
        ada.id,
        t(200),
        Some("10.1.2.3".into()),
        vec!["pwd".into(), "otp".into()],
    );
    let by_code = PortalSession::by_email_code(SecretHash::of("code"), ada.id, t(100), None);
    let bobs = PortalSession::signed_in_with(
        SecretHash::of("bob"),
        bob.id,
        t(300),
        None,
        vec!["hwk".into(), "user".into()],
    );
    let mut tx = begin(&db).await;
    for s in [&password, &mfa, &by_code, &bobs] {
        tx.insert_session(s).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let adas: Vec<_> = r
        .sessions_of_user(ada.id)
        .await
        .unwrap()
        .iter()
        .map(fields)
        .collect();
    assert_eq!(adas, [fields(&mfa), fields(&by_code), fields(&password)]);
    let found = r.session_by_token(&mfa.token_hash).await.unwrap().unwrap();
    assert_eq!(found.assurance, Assurance::Mfa);
    assert_eq!(found.amr, ["pwd", "otp"]);
    assert!(found.is_signed_in());
    let found = r
        .session_by_token(&by_code.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert!(found.amr.is_empty());
    let bobs_found: Vec<_> = r
        .sessions_of_user(bob.id)
        .await
        .unwrap()
        .iter()
        .map(fields)
        .collect();
    assert_eq!(bobs_found, [fields(&bobs)]);
    assert!(
        r.sessions_of_user(sample_user(3).id)
            .await
            .unwrap()
            .is_empty()
    );
    drop(r);

    // Expired sessions are listed until they are removed.
    let mut tx = begin(&db).await;
    tx.delete_sessions_expired_before(password.expires_at + Duration::seconds(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let left: Vec<_> = r
        .sessions_of_user(ada.id)
        .await
        .unwrap()
        .iter()
        .map(fields)
        .collect();
    assert_eq!(left, [fields(&mfa), fields(&by_code)]);
}

pub async fn phone_verified_at_round_trips(db: Arc<dyn Database>) {
    let unverified = sample_user(1);
    let verified = User {
        phone_verified_at: Some(t(5)),
        ..sample_user(2)
    };
    insert_users(&db, &[&unverified, &verified]).await;
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.user_by_id(unverified.id).await.unwrap(),
        Some(unverified.clone())
    );
    assert_eq!(
        r.user_by_username(&verified.username).await.unwrap(),
        Some(verified.clone())
    );
    drop(r);

    // The update writes it: set on one account, cleared on the other (a new mobile).
    let now_verified = User {
        phone_verified_at: Some(t(9)),
        ..unverified.clone()
    };
    let changed_mobile = User {
        phone_verified_at: None,
        ..verified.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_user(&now_verified).await.unwrap());
    assert!(tx.update_user(&changed_mobile).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.user_by_id(unverified.id).await.unwrap(),
        Some(User {
            version: 2,
            ..now_verified
        })
    );
    assert_eq!(
        r.user_by_id(verified.id).await.unwrap(),
        Some(User {
            version: 2,
            ..changed_mobile
        })
    );
}
