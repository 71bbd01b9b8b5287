//! Conformance cases for the tenancy store: tenant admins, groups, editable apps and their
//! secrets, access requests, idempotency keys and the filtered audit query.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance::sample_user;
use crate::conformance_oauth::{auth, client, code, refresh};
use crate::{AuditQuery, Database, IdempotencyRecord, StoreError, Tx};
use std::sync::Arc;
use tessera_domain::clock::from_unix;
use tessera_domain::oauth::grant::RefreshUse;
use tessera_domain::oauth::{ClientKind, DeviceGrant, DeviceStatus, OAuthClient, PushedRequest};
use tessera_domain::secret::SecretHash;
use tessera_domain::tenancy::{
    AccessRequest, AccessRequestStatus, AccessRules, AppSecret, Audience, TenantGroup,
};
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{User, UserType};
use tessera_domain::{AccessRequestId, GroupId, SeededRandom, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) fn t(s: i64) -> OffsetDateTime {
    from_unix(1_800_000_000 + s)
}

pub(crate) fn tenant(n: u64, slug: &str) -> Tenant {
    Tenant {
        id: TenantId::new_at(t(0), &SeededRandom::new(700 + n)),
        slug: slug.into(),
        display_name: format!("Tenant {slug}"),
        created_at: t(0),
    }
}

pub(crate) fn group(n: u64, tenant: &Tenant, name: &str) -> TenantGroup {
    TenantGroup {
        id: GroupId::new_at(t(1), &SeededRandom::new(800 + n)),
        tenant_id: tenant.id,
        name: name.into(),
        description: format!("About {name}"),
        created_at: t(1),
    }
}

pub(crate) fn request(n: u64, app: &OAuthClient, user: &User, at: i64) -> AccessRequest {
    AccessRequest {
        id: AccessRequestId::new_at(t(at), &SeededRandom::new(900 + n)),
        tenant_id: app.tenant_id,
        app_id: app.id,
        user_id: user.id,
        reason: format!("I need it ({n})"),
        status: AccessRequestStatus::Pending,
        created_at: t(at),
        decided_at: None,
        decided_by: None,
    }
}

pub(crate) fn idempotency(principal: &str, key: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        principal: principal.into(),
        key: key.into(),
        fingerprint: format!("POST /api/apps {principal} {key}"),
        status: None,
        body: None,
        created_at: t(0),
    }
}

/// Two tenants ("alpha", "beta"), four users, app 1 in alpha and app 2 in beta; committed.
pub(crate) struct World {
    pub(crate) alpha: Tenant,
    pub(crate) beta: Tenant,
    pub(crate) users: Vec<User>,
    pub(crate) app1: OAuthClient,
    pub(crate) app2: OAuthClient,
}

pub(crate) async fn world(db: &Arc<dyn Database>) -> World {
    let alpha = tenant(1, "alpha");
    let beta = tenant(2, "beta");
    let users: Vec<User> = (1..=4).map(sample_user).collect();
    let app1 = client(1, alpha.id);
    let app2 = client(2, beta.id);
    let mut tx = begin(db).await;
    tx.insert_tenant(&beta).await.unwrap();
    tx.insert_tenant(&alpha).await.unwrap();
    for u in &users {
        tx.insert_user(u).await.unwrap();
    }
    tx.insert_client(&app1).await.unwrap();
    tx.insert_client(&app2).await.unwrap();
    tx.commit().await.unwrap();
    World {
        alpha,
        beta,
        users,
        app1,
        app2,
    }
}

/// An audit query returning everything (up to 100), narrowed by `f`.
pub(crate) fn q(f: impl FnOnce(&mut AuditQuery)) -> AuditQuery {
    let mut query = AuditQuery {
        limit: 100,
        ..AuditQuery::default()
    };
    f(&mut query);
    query
}

pub(crate) async fn seqs(r: &mut Box<dyn Tx>, query: AuditQuery) -> Vec<i64> {
    r.audit_query(&query)
        .await
        .unwrap()
        .into_iter()
        .map(|rec| rec.seq)
        .collect()
}

pub(crate) async fn begin(db: &Arc<dyn Database>) -> Box<dyn Tx> {
    db.begin().await.unwrap()
}

pub async fn tenant_admins_are_added_listed_and_removed(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let (u1, u2, u3) = (&w.users[0], &w.users[1], &w.users[2]);
    let mut tx = begin(&db).await;
    tx.add_tenant_admin(w.alpha.id, u2.id, t(1)).await.unwrap();
    tx.add_tenant_admin(w.alpha.id, u1.id, t(2)).await.unwrap();
    tx.add_tenant_admin(w.alpha.id, u1.id, t(3))
        .await
        .expect("adding an admin twice is no error");
    tx.add_tenant_admin(w.beta.id, u1.id, t(4)).await.unwrap();
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.tenant_by_id(w.alpha.id).await.unwrap(),
        Some(w.alpha.clone())
    );
    assert_eq!(
        r.tenant_by_id(TenantId::from_uuid(Uuid::nil()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        r.tenant_admins(w.alpha.id).await.unwrap(),
        vec![u1.clone(), u2.clone()],
        "full users, by username"
    );
    assert!(r.is_tenant_admin(w.alpha.id, u1.id).await.unwrap());
    assert!(!r.is_tenant_admin(w.beta.id, u2.id).await.unwrap());
    assert!(!r.is_tenant_admin(w.alpha.id, u3.id).await.unwrap());
    assert_eq!(
        r.tenants_administered_by(u1.id).await.unwrap(),
        vec![w.alpha.clone(), w.beta.clone()],
        "by slug"
    );
    assert!(r.tenants_administered_by(u3.id).await.unwrap().is_empty());
    drop(r);

    let mut tx = begin(&db).await;
    assert!(tx.remove_tenant_admin(w.alpha.id, u1.id).await.unwrap());
    assert!(!tx.remove_tenant_admin(w.alpha.id, u1.id).await.unwrap());
    assert!(!tx.remove_tenant_admin(w.alpha.id, u3.id).await.unwrap());
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(r.tenant_admins(w.alpha.id).await.unwrap(), vec![u2.clone()]);
    assert!(!r.is_tenant_admin(w.alpha.id, u1.id).await.unwrap());
    assert_eq!(
        r.tenants_administered_by(u1.id).await.unwrap(),
        vec![w.beta.clone()]
    );
}

pub async fn groups_have_unique_names_per_tenant(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let ops = group(1, &w.alpha, "ops");
    let finance = group(2, &w.alpha, "Finance");
    let beta_team = group(3, &w.alpha, "beta team");
    let mut tx = begin(&db).await;
    for g in [&ops, &finance, &beta_team] {
        tx.insert_group(g).await.unwrap();
    }
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    let err = tx
        .insert_group(&group(4, &w.alpha, "fINANCE"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "name" }),
        "{err:?}"
    );
    drop(tx);

    let elsewhere = group(5, &w.beta, "FINANCE");
    let mut tx = begin(&db).await;
    tx.insert_group(&elsewhere)
        .await
        .expect("the same name in another tenant");
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.groups_of_tenant(w.alpha.id).await.unwrap(),
        vec![beta_team.clone(), finance.clone(), ops.clone()],
        "by name, without regard to case"
    );
    assert_eq!(
        r.groups_of_tenant(w.beta.id).await.unwrap(),
        vec![elsewhere.clone()]
    );
    assert_eq!(
        r.group_in_tenant(w.alpha.id, finance.id).await.unwrap(),
        Some(finance.clone())
    );
    assert_eq!(
        r.group_in_tenant(w.beta.id, finance.id).await.unwrap(),
        None,
        "another tenant's group is not found"
    );
}

pub async fn group_members_are_scoped_to_their_tenant(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let (u1, u2, u3) = (&w.users[0], &w.users[1], &w.users[2]);
    let a1 = group(1, &w.alpha, "readers");
    let a2 = group(2, &w.alpha, "writers");
    let b1 = group(3, &w.beta, "readers");
    let mut tx = begin(&db).await;
    for g in [&a1, &a2, &b1] {
        tx.insert_group(g).await.unwrap();
    }
    assert!(tx.add_group_member(a1.id, u2.id, t(2)).await.unwrap());
    assert!(tx.add_group_member(a1.id, u1.id, t(2)).await.unwrap());
    assert!(
        !tx.add_group_member(a1.id, u1.id, t(3)).await.unwrap(),
        "a member already"
    );
    assert!(tx.add_group_member(a2.id, u1.id, t(2)).await.unwrap());
    assert!(tx.add_group_member(b1.id, u1.id, t(2)).await.unwrap());
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.group_members(a1.id).await.unwrap(),
        vec![u1.clone(), u2.clone()],
        "full users, by username"
    );
    let mut mine = r.groups_of_user_in_tenant(w.alpha.id, u1.id).await.unwrap();
    mine.sort();
    let mut want = vec![a1.id, a2.id];
    want.sort();
    assert_eq!(mine, want);
    assert_eq!(
        r.groups_of_user_in_tenant(w.beta.id, u1.id).await.unwrap(),
        vec![b1.id]
    );
    assert!(
        r.groups_of_user_in_tenant(w.alpha.id, u3.id)
            .await
            .unwrap()
            .is_empty()
    );
    drop(r);

    let mut tx = begin(&db).await;
    assert!(tx.remove_group_member(a1.id, u2.id).await.unwrap());
    assert!(!tx.remove_group_member(a1.id, u2.id).await.unwrap());
    assert!(
        !tx.delete_group(w.beta.id, a1.id).await.unwrap(),
        "another tenant's group"
    );
    assert!(tx.delete_group(w.alpha.id, a1.id).await.unwrap());
    assert!(!tx.delete_group(w.alpha.id, a1.id).await.unwrap());
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert!(r.group_members(a1.id).await.unwrap().is_empty());
    assert_eq!(r.group_in_tenant(w.alpha.id, a1.id).await.unwrap(), None);
    assert_eq!(
        r.groups_of_user_in_tenant(w.alpha.id, u1.id).await.unwrap(),
        vec![a2.id],
        "the deleted group's memberships are gone"
    );
    assert_eq!(r.group_members(b1.id).await.unwrap(), vec![u1.clone()]);
}

pub async fn apps_are_edited_only_in_their_tenant(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.client_in_tenant(w.alpha.id, w.app1.id).await.unwrap(),
        Some(w.app1.clone()),
        "description and access rules round-trip"
    );
    assert_eq!(
        r.client_in_tenant(w.beta.id, w.app1.id).await.unwrap(),
        None,
        "another tenant's app is not found"
    );
    drop(r);

    let group_id = GroupId::new_at(t(5), &SeededRandom::new(42));
    let edited = OAuthClient {
        name: "Renamed app".into(),
        description: "Expense claims for the finance team.\nSecond line.".into(),
        access: AccessRules {
            audience: Audience::Listed,
            users: vec![w.users[0].id, w.users[1].id],
            groups: vec![group_id],
            user_types: vec![UserType::Officer, UserType::Vendor],
            offshore_allowed: false,
        },
        redirect_uris: vec!["https://new.example.gov.sg/cb".into()],
        allowed_scopes: vec!["reports.read".into(), "reports.write".into()],
        access_token_ttl_secs: 600,
        require_par: false,
        backchannel_logout_uri: None,
        consent_required: true,
        require_phishing_resistant: false,
        ..w.app1.clone()
    };
    let mut tx = begin(&db).await;
    assert!(tx.update_client(&edited).await.unwrap());
    // Identity fields are not editable: these changes are ignored.
    let mut renamed = edited.clone();
    renamed.client_id = "another-client-id".into();
    renamed.kind = ClientKind::Public;
    renamed.created_at = t(9_999);
    assert!(tx.update_client(&renamed).await.unwrap());
    // Not in that tenant: nothing changes.
    let mut foreign = edited.clone();
    foreign.tenant_id = w.beta.id;
    foreign.name = "Hijacked".into();
    assert!(!tx.update_client(&foreign).await.unwrap());
    let mut unknown = client(3, w.alpha.id);
    unknown.name = "Never stored".into();
    assert!(!tx.update_client(&unknown).await.unwrap());
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.client_in_tenant(w.alpha.id, w.app1.id).await.unwrap(),
        Some(edited.clone())
    );
    assert_eq!(
        r.client_by_client_id(&w.app1.client_id).await.unwrap(),
        Some(edited.clone())
    );
    assert_eq!(
        r.client_by_id(w.app2.id).await.unwrap(),
        Some(w.app2.clone())
    );
    assert_eq!(
        r.client_by_client_id("another-client-id").await.unwrap(),
        None
    );
}

pub async fn deleting_an_app_removes_what_was_issued_to_it(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let user = &w.users[0];
    let app = &w.app1;
    let other = client(3, w.alpha.id);
    let family = Uuid::from_u128(31);
    let mut tx = begin(&db).await;
    tx.insert_client(&other).await.unwrap();
    tx.insert_client_secret(app.id, &[1; 32], t(0), None)
        .await
        .unwrap();
    tx.add_client_secret(app.id, &[2; 32], t(1), Some(t(9_000)))
        .await
        .unwrap();
    tx.insert_client_secret(other.id, &[3; 32], t(0), None)
        .await
        .unwrap();
    tx.insert_authorization_code(&code(user, app, "del-code-1"))
        .await
        .unwrap();
    tx.insert_authorization_code(&code(user, app, "del-code-2"))
        .await
        .unwrap();
    tx.link_code_to_family(&SecretHash::of("del-code-2"), family)
        .await
        .unwrap();
    tx.insert_refresh_token(&refresh(user, app, "del-rt", family))
        .await
        .unwrap();
    tx.record_access_token("del-at", Some(family), t(300))
        .await
        .unwrap();
    tx.grant_consent(user.id, app.id, "openid", t(1))
        .await
        .unwrap();
    tx.grant_consent(user.id, other.id, "openid", t(1))
        .await
        .unwrap();
    tx.record_session_client("sid-1", app.id, user.id, t(1))
        .await
        .unwrap();
    assert!(
        tx.record_assertion_jti(app.id, "jti-1", t(600))
            .await
            .unwrap()
    );
    tx.insert_pushed_request(&PushedRequest {
        request_hash: SecretHash::of("del-par"),
        client: app.id,
        params: "{}".into(),
        created_at: t(0),
        expires_at: t(300),
    })
    .await
    .unwrap();
    tx.insert_device_grant(&DeviceGrant {
        device_code_hash: SecretHash::of("del-device"),
        user_code: "WDJB-MJHT".into(),
        client: app.id,
        scope: "openid".into(),
        created_at: t(0),
        expires_at: t(600),
        interval_secs: 5,
        status: DeviceStatus::Pending,
        auth: None,
    })
    .await
    .unwrap();
    assert!(
        tx.decide_device_grant("WDJB-MJHT", Some(&auth(user)), t(2))
            .await
            .unwrap()
    );
    tx.insert_access_request(&request(1, app, &w.users[1], 3))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    assert!(
        !tx.delete_client(w.beta.id, app.id).await.unwrap(),
        "another tenant's app"
    );
    assert!(tx.delete_client(w.alpha.id, app.id).await.unwrap());
    assert!(!tx.delete_client(w.alpha.id, app.id).await.unwrap());
    tx.commit()
        .await
        .expect("nothing left refers to the deleted app");

    let mut tx = begin(&db).await;
    assert_eq!(tx.client_in_tenant(w.alpha.id, app.id).await.unwrap(), None);
    assert_eq!(tx.client_by_client_id(&app.client_id).await.unwrap(), None);
    assert!(tx.client_secrets(app.id).await.unwrap().is_empty());
    assert!(
        tx.client_secret_hmacs(app.id, t(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(tx.consent(user.id, app.id).await.unwrap(), None);
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("del-rt"), t(5))
            .await
            .unwrap(),
        RefreshUse::Unknown
    ));
    assert!(
        tx.access_token_revoked("del-at").await.unwrap(),
        "access tokens of the app's refresh families are revoked"
    );
    assert_eq!(
        tx.pushed_request(&SecretHash::of("del-par")).await.unwrap(),
        None
    );
    assert_eq!(
        tx.pending_device_grant("WDJB-MJHT", t(5)).await.unwrap(),
        None
    );
    assert!(tx.take_session_clients("sid-1").await.unwrap().is_empty());
    assert_eq!(
        tx.pending_access_request(app.id, w.users[1].id)
            .await
            .unwrap(),
        None
    );
    assert!(
        tx.access_requests_of_tenant(w.alpha.id, None)
            .await
            .unwrap()
            .is_empty()
    );
    // The other app keeps everything.
    assert_eq!(
        tx.client_in_tenant(w.alpha.id, other.id).await.unwrap(),
        Some(other.clone())
    );
    assert_eq!(
        tx.client_secret_hmacs(other.id, t(5)).await.unwrap(),
        vec![[3; 32]]
    );
    assert!(tx.consent(user.id, other.id).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

pub async fn app_secrets_are_listed_expired_and_deleted(db: Arc<dyn Database>) {
    let w = world(&db).await;
    let app = w.app1.id;
    let mut tx = begin(&db).await;
    let old = tx
        .add_client_secret(app, &[1; 32], t(0), Some(t(25)))
        .await
        .unwrap();
    let first = tx
        .add_client_secret(app, &[2; 32], t(10), None)
        .await
        .unwrap();
    let soon = tx
        .add_client_secret(app, &[3; 32], t(20), Some(t(50)))
        .await
        .unwrap();
    let late = tx
        .add_client_secret(app, &[4; 32], t(30), Some(t(500)))
        .await
        .unwrap();
    let elsewhere = tx
        .add_client_secret(w.app2.id, &[5; 32], t(0), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ids = [old, first, soon, late];
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "ids grow: {ids:?}");
    assert!(!ids.contains(&elsewhere));

    let secret = |id, created, expires: Option<i64>| AppSecret {
        id,
        created_at: t(created),
        expires_at: expires.map(t),
    };
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.client_secrets(app).await.unwrap(),
        vec![
            secret(old, 0, Some(25)),
            secret(first, 10, None),
            secret(soon, 20, Some(50)),
            secret(late, 30, Some(500)),
        ],
        "oldest first, expired ones included"
    );
    drop(r);

    // A rotation at t(30) with an overlap until t(100): only secrets valid at t(30) that
    // would outlive t(100) are shortened.
    let mut tx = begin(&db).await;
    assert_eq!(
        tx.expire_client_secrets(app, t(30), t(100)).await.unwrap(),
        2
    );
    let fresh = tx
        .add_client_secret(app, &[6; 32], t(30), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.client_secrets(app).await.unwrap(),
        vec![
            secret(old, 0, Some(25)),
            secret(first, 10, Some(100)),
            secret(soon, 20, Some(50)),
            secret(late, 30, Some(100)),
            secret(fresh, 30, None),
        ]
    );
    assert_eq!(
        r.client_secret_hmacs(app, t(60)).await.unwrap(),
        vec![[6; 32], [4; 32], [2; 32]]
    );
    assert_eq!(
        r.client_secret_hmacs(app, t(100)).await.unwrap(),
        vec![[6; 32]],
        "the overlap is over"
    );
    assert_eq!(
        r.client_secrets(w.app2.id).await.unwrap(),
        vec![secret(elsewhere, 0, None)],
        "another app's secrets are untouched"
    );
    drop(r);

    let mut tx = begin(&db).await;
    assert!(tx.delete_client_secret(app, soon).await.unwrap());
    assert!(!tx.delete_client_secret(app, soon).await.unwrap());
    assert!(
        !tx.delete_client_secret(app, elsewhere).await.unwrap(),
        "another app's secret"
    );
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    let left: Vec<i64> = r
        .client_secrets(app)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, [old, first, late, fresh]);
    assert_eq!(r.client_secrets(w.app2.id).await.unwrap().len(), 1);
}
