//! The conformance suite: every backend runs these same tests (see `conformance_tests!`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{Database, StoreError, Tx};
use std::sync::Arc;
use tessera_domain::audit::{Actor, AuditEvent, ChainVerifier, Outcome};
use tessera_domain::clock::from_unix;
use tessera_domain::outbox::{Channel, DeliveryStatus, OutboxMessage};
use tessera_domain::secret::SecretHash;
use tessera_domain::session::PortalSession;
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{EmailAddress, MobileNumber, User, UserState, UserType, Username};
use tessera_domain::{OutboxMessageId, SeededRandom, TenantId, UserId};
use time::{Duration, OffsetDateTime};

/// A database made for one test, with whatever keeps it alive (a temp dir, a PG database).
pub struct TestDatabase {
    pub db: Arc<dyn Database>,
    pub guard: Box<dyn Send + Sync>,
}

/// Expands to one `#[tokio::test]` per conformance case, each on a fresh database from
/// `$factory: async fn() -> TestDatabase`.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:path) => {
        $crate::conformance_tests!(@each $factory;
            users_round_trip,
            usernames_are_unique,
            users_list_in_pages,
            platform_admin_is_detected,
            tenants_round_trip_with_unique_slug,
            sessions_round_trip,
            setup_link_is_single_use,
            setup_link_is_single_use_under_concurrency,
            rollback_discards_every_write,
            audit_chain_appends_and_verifies,
            audit_chain_never_forks_under_concurrency,
            outbox_delivers_and_records,
            outbox_failed_attempt_backs_off,
            outbox_claims_are_exclusive_under_concurrency,
            read_handle_refuses_writes,
            migrate_is_idempotent
        );
        $crate::conformance_tests!(@oauth $factory;
            clients_round_trip_with_secrets,
            signing_keys_publish_then_retire,
            authorization_codes_work_once,
            authorization_code_is_single_use_under_concurrency,
            refresh_tokens_rotate_and_reuse_revokes,
            refresh_token_is_single_use_under_concurrency,
            issued_tokens_are_recorded_together,
            consents_are_remembered_and_revocable
        );
        $crate::conformance_tests!(@flows $factory;
            pushed_requests_work_once,
            device_grants_are_decided_once_and_redeemed_once,
            approved_device_grant_is_redeemed_once_under_concurrency,
            sessions_remember_their_apps_and_end_once
        );
        $crate::conformance_tests!(@lifecycle $factory;
            user_update_is_compare_and_set,
            user_update_has_one_winner_under_concurrency,
            user_lifecycle_fields_round_trip,
            users_are_found_by_email_without_regard_to_case,
            search_users_filters_and_pages,
            search_users_takes_wildcards_literally,
            pending_users_due_soonest_first,
            invitations_round_trip_by_id_and_token,
            invitation_update_is_compare_and_set,
            invitation_is_registered_once_under_concurrency,
            invitations_list_newest_first_in_pages,
            invitations_past_expiry_oldest_first,
            self_registrations_round_trip_with_compare_and_set,
            self_registrations_are_counted_per_address,
            settings_are_put_and_replaced,
            sessions_of_a_user_end_together,
            session_assurance_round_trips,
            audit_for_target_is_newest_first_and_limited
        );
        $crate::conformance_tests!(@signin $factory;
            totp_keys_round_trip_oldest_first,
            totp_update_is_compare_and_set,
            totp_code_is_accepted_once_under_concurrency,
            totp_delete_removes_only_that_users_key,
            sign_in_flows_round_trip_with_compare_and_set,
            sign_in_flow_finishes_once_under_concurrency,
            expired_sign_in_flows_are_removed,
            lockout_counts_failures_then_locks,
            lockout_forgets_failures_older_than_the_window,
            lockout_clear_forgets_failures_and_lock,
            lockout_counts_every_concurrent_failure,
            lockout_starts_once_under_concurrency,
            code_challenges_latest_by_purpose,
            code_challenge_update_is_compare_and_set,
            policies_are_published_as_versions,
            policy_acceptance_is_idempotent_and_listed,
            sessions_of_user_newest_first_with_amr,
            phone_verified_at_round_trips
        );
        $crate::conformance_tests!(@push $factory;
            push_enrolment_registers_one_device,
            expired_push_enrolment_is_refused,
            push_enrolment_is_single_use_under_concurrency,
            push_devices_round_trip_oldest_first,
            push_device_update_is_compare_and_set,
            push_device_delete_removes_only_that_users_device,
            push_challenges_round_trip,
            open_push_challenges_are_pending_unexpired_oldest_first,
            push_challenge_update_is_compare_and_set,
            push_challenge_is_decided_once_under_concurrency,
            push_challenges_are_counted_since
        );
        $crate::conformance_tests!(@passkeys $factory;
            passkeys_round_trip_unique_by_credential_id,
            passkey_update_is_compare_and_set_and_delete_is_per_user,
            passkey_ceremony_is_taken_once_and_expires,
            passkey_ceremony_is_taken_once_under_concurrency,
            session_amr_update_is_compare_and_set
        );
        $crate::conformance_tests!(@tenancy $factory;
            tenant_admins_are_added_listed_and_removed,
            groups_have_unique_names_per_tenant,
            group_members_are_scoped_to_their_tenant,
            apps_are_edited_only_in_their_tenant,
            deleting_an_app_removes_what_was_issued_to_it,
            app_secrets_are_listed_expired_and_deleted
        );
        $crate::conformance_tests!(@tenancy_requests $factory;
            access_requests_are_pending_once_per_app_and_user,
            access_request_is_decided_once_under_concurrency,
            access_requests_list_newest_first_by_status,
            idempotency_keys_are_reserved_once_per_principal,
            audit_query_filters_and_pages
        );
    };
    (@tenancy $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_tenancy::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@tenancy_requests $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_tenancy_requests::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@passkeys $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_passkeys::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@push $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_push::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@signin $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_signin::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@lifecycle $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_lifecycle::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@flows $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_flows::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@oauth $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance_oauth::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let test_db = $factory().await;
                $crate::conformance::$name(test_db.db.clone()).await;
                test_db.db.close().await;
                drop(test_db);
            }
        )*
    };
}

const T0: i64 = 1_800_000_000;

fn t(offset_secs: i64) -> OffsetDateTime {
    from_unix(T0 + offset_secs)
}

pub fn sample_user(n: u32) -> User {
    let rng = SeededRandom::new(u64::from(n));
    User {
        id: UserId::new_at(t(n.into()), &rng),
        username: Username::parse(&format!("user{n:03}")).unwrap(),
        given_name: "Ada".into(),
        family_name: format!("Lovelace {n}"),
        email: EmailAddress::parse(&format!("ada{n}@agency.gov.sg")).unwrap(),
        mobile: n
            .is_multiple_of(2)
            .then(|| MobileNumber::parse("+6591234567").unwrap()),
        department: "Digital Services".into(),
        user_type: UserType::Officer,
        state: UserState::Active,
        platform_admin: false,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        password_is_initial: false,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
        activation_deadline: None,
        reminders_sent: 0,
        phone_verified_at: None,
        created_at: t(n.into()),
        updated_at: t(n.into()),
        version: 1,
    }
}

fn message(n: u32, channel: Channel) -> OutboxMessage {
    let rng = SeededRandom::new(1000 + u64::from(n));
    OutboxMessage {
        id: OutboxMessageId::new_at(t(n.into()), &rng),
        channel,
        recipient: format!("person{n}@agency.gov.sg"),
        subject: format!("Subject {n}"),
        body: format!("Body {n}\nwith two lines"),
        status: DeliveryStatus::Pending,
        attempts: 0,
        created_at: t(n.into()),
        next_attempt_at: t(n.into()),
        last_error: None,
        delivered_at: None,
    }
}

async fn begin(db: &Arc<dyn Database>) -> Box<dyn Tx> {
    db.begin().await.expect("begin")
}

pub async fn users_round_trip(db: Arc<dyn Database>) {
    let user = sample_user(1);
    let mut tx = begin(&db).await;
    tx.insert_user(&user).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(r.user_by_id(user.id).await.unwrap(), Some(user.clone()));
    assert_eq!(
        r.user_by_username(&user.username).await.unwrap(),
        Some(user.clone())
    );
    let unknown = Username::parse("nobody").unwrap();
    assert_eq!(r.user_by_username(&unknown).await.unwrap(), None);
    assert_eq!(r.count_users().await.unwrap(), 1);
}

pub async fn usernames_are_unique(db: Arc<dyn Database>) {
    let first = sample_user(1);
    let mut second = sample_user(2);
    second.username = first.username.clone();
    let mut tx = begin(&db).await;
    tx.insert_user(&first).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = begin(&db).await;
    let err = tx.insert_user(&second).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "username" }),
        "{err:?}"
    );
}

pub async fn users_list_in_pages(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    for n in (1..=7).rev() {
        tx.insert_user(&sample_user(n)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let page1 = r.list_users(None, 3).await.unwrap();
    let names: Vec<_> = page1.iter().map(|u| u.username.to_string()).collect();
    assert_eq!(names, ["user001", "user002", "user003"]);
    let page3 = r
        .list_users(Some(&Username::parse("user006").unwrap()), 3)
        .await
        .unwrap();
    let names: Vec<_> = page3.iter().map(|u| u.username.to_string()).collect();
    assert_eq!(names, ["user007"]);
}

pub async fn platform_admin_is_detected(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    assert!(!tx.platform_admin_exists().await.unwrap());
    tx.insert_user(&sample_user(1)).await.unwrap();
    assert!(!tx.platform_admin_exists().await.unwrap());
    let mut admin = sample_user(2);
    admin.platform_admin = true;
    tx.insert_user(&admin).await.unwrap();
    assert!(tx.platform_admin_exists().await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn tenants_round_trip_with_unique_slug(db: Arc<dyn Database>) {
    let rng = SeededRandom::new(5);
    let tenant = Tenant {
        id: TenantId::new_at(t(0), &rng),
        slug: "docs".into(),
        display_name: "Docs portal".into(),
        created_at: t(0),
    };
    let mut tx = begin(&db).await;
    tx.insert_tenant(&tenant).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = begin(&db).await;
    let again = Tenant {
        id: TenantId::new_at(t(1), &rng),
        ..tenant.clone()
    };
    let err = tx.insert_tenant(&again).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "slug" }),
        "{err:?}"
    );
    drop(tx);
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.tenant_by_slug("docs").await.unwrap(),
        Some(tenant.clone())
    );
    assert_eq!(r.list_tenants().await.unwrap(), vec![tenant]);
    assert_eq!(r.count_tenants().await.unwrap(), 1);
}

pub async fn sessions_round_trip(db: Arc<dyn Database>) {
    let user = sample_user(1);
    let token = SecretHash::of("session-secret");
    let session = PortalSession::new(token.clone(), user.id, t(0), Some("127.0.0.1".into()));
    let mut tx = begin(&db).await;
    tx.insert_user(&user).await.unwrap();
    tx.insert_session(&session).await.unwrap();
    tx.touch_session(&token, t(60)).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let found = r.session_by_token(&token).await.unwrap().unwrap();
    assert_eq!(found.user_id, user.id);
    assert_eq!(found.last_seen_at, t(60));
    assert_eq!(found.expires_at, session.expires_at);
    assert!(
        r.session_by_token(&SecretHash::of("other"))
            .await
            .unwrap()
            .is_none()
    );
    drop(r);

    let mut tx = begin(&db).await;
    assert_eq!(tx.delete_sessions_expired_before(t(0)).await.unwrap(), 0);
    assert_eq!(
        tx.delete_sessions_expired_before(session.expires_at + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(!tx.delete_session(&token).await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn setup_link_is_single_use(db: Arc<dyn Database>) {
    let link = SecretHash::of("setup-link");
    let expired = SecretHash::of("old-link");
    let mut tx = begin(&db).await;
    tx.insert_setup_link(&link, t(0), t(3600)).await.unwrap();
    tx.insert_setup_link(&expired, t(0), t(10)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert!(tx.setup_link_is_valid(&link, t(5)).await.unwrap());
    assert!(
        !tx.consume_setup_link(&expired, t(10)).await.unwrap(),
        "expired link used"
    );
    assert!(
        !tx.consume_setup_link(&SecretHash::of("forged"), t(5))
            .await
            .unwrap()
    );
    assert!(tx.consume_setup_link(&link, t(5)).await.unwrap());
    assert!(
        !tx.consume_setup_link(&link, t(6)).await.unwrap(),
        "link used twice"
    );
    assert!(!tx.setup_link_is_valid(&link, t(6)).await.unwrap());
    tx.commit().await.unwrap();

    let other = SecretHash::of("another");
    let mut tx = begin(&db).await;
    tx.insert_setup_link(&other, t(0), t(3600)).await.unwrap();
    assert_eq!(tx.revoke_setup_links(t(7)).await.unwrap(), 2);
    assert!(!tx.consume_setup_link(&other, t(8)).await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn setup_link_is_single_use_under_concurrency(db: Arc<dyn Database>) {
    let link = SecretHash::of("contended-link");
    let mut tx = begin(&db).await;
    tx.insert_setup_link(&link, t(0), t(3600)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        let link = link.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let won = tx.consume_setup_link(&link, t(5)).await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(won)
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "a single-use link was used {winners} times");
}

pub async fn rollback_discards_every_write(db: Arc<dyn Database>) {
    let user = sample_user(1);
    let msg = message(1, Channel::Email);
    let mut tx = begin(&db).await;
    tx.insert_user(&user).await.unwrap();
    tx.enqueue_message(&msg).await.unwrap();
    tx.append_audit(&AuditEvent::new(
        t(0),
        &Actor::Cli,
        "user.create",
        Outcome::Success,
    ))
    .await
    .unwrap();
    drop(tx);

    let mut r = db.read().await.unwrap();
    assert_eq!(r.user_by_id(user.id).await.unwrap(), None);
    assert_eq!(r.outbox_message(msg.id).await.unwrap(), None);
    assert!(r.audit_newest(None, 10).await.unwrap().is_empty());
}

pub async fn audit_chain_appends_and_verifies(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    for n in 0..5 {
        let event = AuditEvent::new(t(n), &Actor::Cli, "tenant.create", Outcome::Success)
            .target(format!("tenant:{n}"))
            .source_ip(Some("10.0.0.1".into()))
            .detail(serde_json::json!({ "n": n }));
        let rec = tx.append_audit(&event).await.unwrap();
        assert_eq!(rec.seq, n + 1);
        assert_eq!(rec.event, event);
    }
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let all = r.audit_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 5);
    let mut v = ChainVerifier::default();
    for rec in &all {
        v.push(rec).unwrap();
    }
    assert_eq!(v.checked(), 5);
    let newest = r.audit_newest(None, 2).await.unwrap();
    assert_eq!(newest.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 4]);
    let older = r.audit_newest(Some(4), 10).await.unwrap();
    assert_eq!(older.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(r.audit_after(3, 10).await.unwrap().len(), 2);
}

pub async fn audit_chain_never_forks_under_concurrency(db: Arc<dyn Database>) {
    let mut tasks = Vec::new();
    for n in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let event = AuditEvent::new(t(n), &Actor::System, "concurrent.write", Outcome::Success);
            tx.append_audit(&event).await?;
            tx.commit().await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut r = db.read().await.unwrap();
    let all = r.audit_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 20);
    let mut v = ChainVerifier::default();
    for rec in &all {
        v.push(rec)
            .unwrap_or_else(|e| panic!("chain broken under concurrency: {e:?}"));
    }
}

pub async fn outbox_delivers_and_records(db: Arc<dyn Database>) {
    let email = message(1, Channel::Email);
    let sms = OutboxMessage {
        subject: String::new(),
        ..message(2, Channel::Sms)
    };
    let later = OutboxMessage {
        next_attempt_at: t(1000),
        ..message(3, Channel::Email)
    };
    let mut tx = begin(&db).await;
    for m in [&email, &sms, &later] {
        tx.enqueue_message(m).await.unwrap();
    }
    tx.commit().await.unwrap();

    // Only the email channel has a transport: the SMS stays held, the later one waits.
    let mut tx = begin(&db).await;
    let claimed = tx
        .claim_due_messages(&[Channel::Email], t(10), t(70), 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, email.id);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].body, email.body);

    // Leased: not claimable again until the lease ends.
    let mut tx = begin(&db).await;
    assert!(
        tx.claim_due_messages(&[Channel::Email], t(20), t(80), 10)
            .await
            .unwrap()
            .is_empty()
    );
    tx.mark_delivered(email.id, t(21)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert!(
        tx.claim_due_messages(&[Channel::Email], t(100), t(160), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let both = tx
        .claim_due_messages(&[Channel::Email, Channel::Sms], t(1000), t(1060), 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut ids: Vec<_> = both.iter().map(|m| m.id).collect();
    ids.sort();
    let mut want = vec![sms.id, later.id];
    want.sort();
    assert_eq!(ids, want);

    let mut r = db.read().await.unwrap();
    let stored = r.outbox_message(email.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Delivered);
    assert_eq!(stored.delivered_at, Some(t(21)));
    let listed = r.list_outbox(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [later.id, sms.id, email.id]
    );
    let page2 = r.list_outbox(Some(sms.id), 10).await.unwrap();
    assert_eq!(page2.iter().map(|m| m.id).collect::<Vec<_>>(), [email.id]);
    assert_eq!(r.count_outbox(DeliveryStatus::Delivered).await.unwrap(), 1);
    assert_eq!(r.count_outbox(DeliveryStatus::Pending).await.unwrap(), 2);
}

pub async fn outbox_failed_attempt_backs_off(db: Arc<dyn Database>) {
    let m = message(1, Channel::Sms);
    let mut tx = begin(&db).await;
    tx.enqueue_message(&m).await.unwrap();
    let claimed = tx
        .claim_due_messages(&[Channel::Sms], t(5), t(65), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    tx.mark_attempt_failed(m.id, DeliveryStatus::Pending, t(500), "connection refused")
        .await
        .unwrap();
    assert!(
        tx.claim_due_messages(&[Channel::Sms], t(499), t(559), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = tx
        .claim_due_messages(&[Channel::Sms], t(500), t(560), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    tx.mark_attempt_failed(m.id, DeliveryStatus::Failed, t(501), "gave up")
        .await
        .unwrap();
    assert!(
        tx.claim_due_messages(&[Channel::Sms], t(10_000), t(10_060), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = tx.outbox_message(m.id).await.unwrap().unwrap();
    assert_eq!(stored.status, DeliveryStatus::Failed);
    assert_eq!(stored.last_error.as_deref(), Some("gave up"));
    tx.commit().await.unwrap();
}

pub async fn outbox_claims_are_exclusive_under_concurrency(db: Arc<dyn Database>) {
    let mut tx = begin(&db).await;
    for n in 0..40 {
        tx.enqueue_message(&message(n, Channel::Email))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let mut tx = db.begin().await?;
                let batch = tx
                    .claim_due_messages(&[Channel::Email], t(100), t(160), 3)
                    .await?;
                tx.commit().await?;
                if batch.is_empty() {
                    return Ok::<_, StoreError>(got);
                }
                got.extend(batch.into_iter().map(|m| m.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap().unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(total, 40, "some messages were claimed twice or never");
    assert_eq!(all.len(), 40);
}

pub async fn read_handle_refuses_writes(db: Arc<dyn Database>) {
    let mut r = db.read().await.unwrap();
    assert!(
        r.insert_user(&sample_user(9)).await.is_err(),
        "a read handle accepted a write"
    );
    drop(r);
    let mut r = db.read().await.unwrap();
    assert_eq!(r.count_users().await.unwrap(), 0);
}

pub async fn migrate_is_idempotent(db: Arc<dyn Database>) {
    let first = db.migrate().await.unwrap();
    let second = db.migrate().await.unwrap();
    assert!(first.is_current());
    assert_eq!(first, second);
    assert_eq!(db.schema_status().await.unwrap(), second);
}
