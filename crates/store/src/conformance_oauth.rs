//! Conformance cases for the OAuth stores: clients, signing keys, codes, refresh families.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::conformance::sample_user;
use crate::{Database, StoreError, Tx};
use std::sync::Arc;
use tessera_domain::clock::from_unix;
use tessera_domain::oauth::grant::{Authentication, CodeRedemption, RefreshUse};
use tessera_domain::oauth::{
    AuthorizationCode, ClientKind, GrantType, OAuthClient, RefreshToken, SigningAlg,
    SigningKeyRecord,
};
use tessera_domain::secret::SecretHash;
use tessera_domain::tenancy::{AccessRules, Audience};
use tessera_domain::tenant::Tenant;
use tessera_domain::user::{User, UserType};
use tessera_domain::{AppId, SeededRandom, TenantId};
use time::OffsetDateTime;
use uuid::Uuid;

const T0: i64 = 1_800_000_000;

fn t(s: i64) -> OffsetDateTime {
    from_unix(T0 + s)
}

/// App `n` of `tenant`; app 1 admits listed vendors on shore only, the others everyone.
pub fn client(n: u32, tenant: TenantId) -> OAuthClient {
    OAuthClient {
        id: AppId::new_at(t(n.into()), &SeededRandom::new(500 + u64::from(n))),
        tenant_id: tenant,
        client_id: format!("client-{n}"),
        name: format!("App {n}"),
        kind: ClientKind::Confidential,
        redirect_uris: vec![
            "https://app.example.gov.sg/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        allowed_scopes: vec!["reports.read".into()],
        id_token_alg: SigningAlg::RS256,
        access_token_ttl_secs: 300,
        refresh_idle_ttl_secs: 86_400,
        refresh_absolute_ttl_secs: 2_592_000,
        require_par: n == 1,
        post_logout_redirect_uris: vec!["https://app.example.gov.sg/bye".into()],
        backchannel_logout_uri: Some("https://app.example.gov.sg/bcl".into()),
        jwks: (n == 2).then(|| r#"{"keys":[]}"#.into()),
        jwks_uri: None,
        consent_required: n == 2,
        allowed_resources: vec!["https://reports.example.gov.sg/".into()],
        created_at: t(n.into()),
        require_phishing_resistant: n == 1,
        description: format!("Reports for team {n}"),
        access: if n == 1 {
            AccessRules {
                audience: Audience::Listed,
                user_types: vec![UserType::Vendor],
                offshore_allowed: false,
                ..AccessRules::default()
            }
        } else {
            AccessRules::default()
        },
    }
}

/// A tenant, a user and a client, committed.
pub async fn world(db: &Arc<dyn Database>) -> (User, OAuthClient) {
    let tenant = Tenant {
        id: TenantId::new_at(t(0), &SeededRandom::new(9)),
        slug: "docs".into(),
        display_name: "Docs".into(),
        created_at: t(0),
    };
    let user = sample_user(1);
    let c = client(1, tenant.id);
    let mut tx = db.begin().await.unwrap();
    tx.insert_tenant(&tenant).await.unwrap();
    tx.insert_user(&user).await.unwrap();
    tx.insert_client(&c).await.unwrap();
    tx.commit().await.unwrap();
    (user, c)
}

pub fn auth(user: &User) -> Authentication {
    Authentication {
        user_id: user.id,
        auth_time: t(0),
        amr: vec!["pwd".into(), "otp".into()],
        acr: "urn:tessera:acr:mfa".into(),
        sid: "sid-1".into(),
    }
}

pub fn code(user: &User, c: &OAuthClient, secret: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: SecretHash::of(secret),
        client: c.id,
        redirect_uri: c.redirect_uris[0].clone(),
        scope: "openid profile".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        auth: auth(user),
        created_at: t(0),
        expires_at: t(60),
    }
}

pub fn refresh(user: &User, c: &OAuthClient, secret: &str, family: Uuid) -> RefreshToken {
    RefreshToken {
        token_hash: SecretHash::of(secret),
        family_id: family,
        client: c.id,
        scope: "openid offline_access".into(),
        auth: auth(user),
        created_at: t(0),
        expires_at: t(3600),
        family_expires_at: t(86_400),
    }
}

async fn begin(db: &Arc<dyn Database>) -> Box<dyn Tx> {
    db.begin().await.unwrap()
}

pub async fn clients_round_trip_with_secrets(db: Arc<dyn Database>) {
    let (_, c) = world(&db).await;
    let mut tx = begin(&db).await;
    assert_eq!(
        tx.client_by_client_id("client-1").await.unwrap(),
        Some(c.clone())
    );
    assert_eq!(tx.client_by_client_id("nope").await.unwrap(), None);
    assert_eq!(
        tx.list_clients(Some(c.tenant_id)).await.unwrap(),
        vec![c.clone()]
    );
    assert_eq!(
        tx.list_clients(Some(TenantId::from_uuid(Uuid::nil())))
            .await
            .unwrap(),
        vec![]
    );
    let mut dup = client(2, c.tenant_id);
    dup.client_id = c.client_id.clone();
    let err = tx.insert_client(&dup).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate { field: "client_id" }),
        "{err:?}"
    );
    drop(tx);

    let mut tx = begin(&db).await;
    tx.insert_client_secret(c.id, &[1; 32], t(0), Some(t(100)))
        .await
        .unwrap();
    tx.insert_client_secret(c.id, &[2; 32], t(50), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut r = db.read().await.unwrap();
    assert_eq!(
        r.client_secret_hmacs(c.id, t(60)).await.unwrap(),
        vec![[2; 32], [1; 32]]
    );
    assert_eq!(
        r.client_secret_hmacs(c.id, t(100)).await.unwrap(),
        vec![[2; 32]]
    );
}

pub async fn signing_keys_publish_then_retire(db: Arc<dyn Database>) {
    let key = |kid: &str, alg, at| SigningKeyRecord {
        kid: kid.into(),
        alg,
        sealed_private: vec![7; 40],
        public_jwk: format!("{{\"kid\":\"{kid}\"}}"),
        created_at: t(at),
        retired_at: None,
        expires_at: None,
    };
    let mut tx = begin(&db).await;
    tx.insert_signing_key(&key("es-1", SigningAlg::ES256, 0))
        .await
        .unwrap();
    tx.insert_signing_key(&key("rs-1", SigningAlg::RS256, 0))
        .await
        .unwrap();
    tx.insert_signing_key(&key("es-2", SigningAlg::ES256, 10))
        .await
        .unwrap();
    assert_eq!(
        tx.retire_signing_keys(SigningAlg::ES256, "es-2", t(10), t(1000))
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();

    let mut r = db.read().await.unwrap();
    let published = r.published_signing_keys(t(500)).await.unwrap();
    let kids: Vec<_> = published.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["es-2", "rs-1", "es-1"]);
    let es1 = published.iter().find(|k| k.kid == "es-1").unwrap();
    assert_eq!(
        (es1.retired_at, es1.expires_at),
        (Some(t(10)), Some(t(1000)))
    );
    assert_eq!(es1.sealed_private, vec![7; 40]);
    let later: Vec<_> = r
        .published_signing_keys(t(1000))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(later, ["es-2", "rs-1"]);
}

pub async fn authorization_codes_work_once(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let good = code(&user, &c, "code-1");
    let mut tx = begin(&db).await;
    tx.insert_authorization_code(&good).await.unwrap();
    tx.insert_authorization_code(&code(&user, &c, "code-2"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    match tx
        .redeem_authorization_code(&SecretHash::of("code-1"), t(30))
        .await
        .unwrap()
    {
        CodeRedemption::Redeemed(got) => assert_eq!(got, good),
        other => panic!("expected Redeemed, got {other:?}"),
    }
    assert!(matches!(
        tx.redeem_authorization_code(&SecretHash::of("code-1"), t(31))
            .await
            .unwrap(),
        CodeRedemption::Replayed { family: None }
    ));
    let family = Uuid::from_u128(42);
    tx.link_code_to_family(&SecretHash::of("code-1"), family)
        .await
        .unwrap();
    assert!(matches!(
        tx.redeem_authorization_code(&SecretHash::of("code-1"), t(32)).await.unwrap(),
        CodeRedemption::Replayed { family: Some(f) } if f == family
    ));
    // Expired: unusable (and used up).
    assert!(matches!(
        tx.redeem_authorization_code(&SecretHash::of("code-2"), t(60))
            .await
            .unwrap(),
        CodeRedemption::Unknown
    ));
    assert!(matches!(
        tx.redeem_authorization_code(&SecretHash::of("forged"), t(1))
            .await
            .unwrap(),
        CodeRedemption::Unknown
    ));
    tx.commit().await.unwrap();
}

pub async fn authorization_code_is_single_use_under_concurrency(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let mut tx = begin(&db).await;
    tx.insert_authorization_code(&code(&user, &c, "contended"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let r = tx
                .redeem_authorization_code(&SecretHash::of("contended"), t(5))
                .await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(matches!(r, CodeRedemption::Redeemed(_)))
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(wins, 1, "a code was redeemed {wins} times");
}

pub async fn refresh_tokens_rotate_and_reuse_revokes(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let family = Uuid::from_u128(7);
    let first = refresh(&user, &c, "rt-1", family);
    let mut tx = begin(&db).await;
    tx.insert_refresh_token(&first).await.unwrap();
    tx.record_access_token("at-1", Some(family), t(300))
        .await
        .unwrap();
    tx.record_access_token("unrelated", Some(Uuid::from_u128(8_888)), t(300))
        .await
        .unwrap();
    tx.record_access_token("at-old", Some(family), t(10))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    match tx
        .use_refresh_token(&SecretHash::of("rt-1"), t(5))
        .await
        .unwrap()
    {
        RefreshUse::Fresh(got) => assert_eq!(got, first),
        other => panic!("expected Fresh, got {other:?}"),
    }
    tx.insert_refresh_token(&refresh(&user, &c, "rt-2", family))
        .await
        .unwrap();
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("rt-1"), t(6)).await.unwrap(),
        RefreshUse::Reused { family: f } if f == family
    ));
    assert_eq!(
        tx.refresh_token_family(&SecretHash::of("rt-2"))
            .await
            .unwrap(),
        Some((family, c.id))
    );
    assert!(!tx.access_token_revoked("at-1").await.unwrap());
    tx.revoke_refresh_family(family, t(20)).await.unwrap();
    assert!(
        tx.access_token_revoked("at-1").await.unwrap(),
        "family revocation revokes its access tokens"
    );
    assert!(
        !tx.access_token_revoked("unrelated").await.unwrap(),
        "only that family's tokens"
    );
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("rt-2"), t(21))
            .await
            .unwrap(),
        RefreshUse::Reused { .. }
    ));
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("nope"), t(21))
            .await
            .unwrap(),
        RefreshUse::Unknown
    ));
    // Idle expiry.
    tx.insert_refresh_token(&refresh(&user, &c, "rt-3", Uuid::from_u128(8)))
        .await
        .unwrap();
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("rt-3"), t(3600))
            .await
            .unwrap(),
        RefreshUse::Unknown
    ));
    tx.revoke_access_token("cc-1", t(300)).await.unwrap();
    tx.revoke_access_token("cc-1", t(300)).await.unwrap();
    assert!(tx.access_token_revoked("cc-1").await.unwrap());
    tx.commit().await.unwrap();
}

pub async fn refresh_token_is_single_use_under_concurrency(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let mut tx = begin(&db).await;
    tx.insert_refresh_token(&refresh(&user, &c, "contended", Uuid::from_u128(9)))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = db.begin().await?;
            let r = tx
                .use_refresh_token(&SecretHash::of("contended"), t(5))
                .await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(matches!(r, RefreshUse::Fresh(_)))
        }));
    }
    let mut wins = 0;
    for task in tasks {
        wins += usize::from(task.await.unwrap().unwrap());
    }
    assert_eq!(wins, 1, "a refresh token was rotated {wins} times");
}

/// `record_issued_tokens` writes what `insert_refresh_token` and `record_access_token`
/// would: the token rotates, its family revokes the access token, and a response without a
/// refresh token still records its `jti`.
pub async fn issued_tokens_are_recorded_together(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let family = Uuid::from_u128(31);
    let first = refresh(&user, &c, "issued-1", family);
    let mut tx = begin(&db).await;
    tx.record_issued_tokens(Some(&first), "issued-at-1", t(300))
        .await
        .unwrap();
    tx.record_issued_tokens(None, "issued-at-alone", t(300))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = begin(&db).await;
    match tx
        .use_refresh_token_and_user(&SecretHash::of("issued-1"), t(5))
        .await
        .unwrap()
    {
        (RefreshUse::Fresh(got), read) => {
            assert_eq!(got, first);
            // PostgreSQL reads the user on the way; it must be the token's own.
            if db.backend() == crate::Backend::Postgres {
                assert_eq!(read.as_ref(), Some(&user));
            }
            if let Some(u) = read {
                assert_eq!(u, user);
            }
        }
        other => panic!("expected Fresh, got {other:?}"),
    }
    assert!(matches!(
        tx.use_refresh_token_and_user(&SecretHash::of("issued-1"), t(6))
            .await
            .unwrap(),
        (RefreshUse::Reused { family: f }, None) if f == family
    ));
    assert!(matches!(
        tx.use_refresh_token_and_user(&SecretHash::of("never-issued"), t(6))
            .await
            .unwrap(),
        (RefreshUse::Unknown, None)
    ));
    // The same family again (a rotation): its family row already exists.
    tx.record_issued_tokens(
        Some(&refresh(&user, &c, "issued-2", family)),
        "issued-at-2",
        t(300),
    )
    .await
    .unwrap();
    assert_eq!(
        tx.refresh_token_family(&SecretHash::of("issued-2"))
            .await
            .unwrap(),
        Some((family, c.id))
    );
    assert!(!tx.access_token_revoked("issued-at-2").await.unwrap());
    tx.revoke_refresh_family(family, t(20)).await.unwrap();
    for jti in ["issued-at-1", "issued-at-2"] {
        assert!(
            tx.access_token_revoked(jti).await.unwrap(),
            "{jti}: revoking the family revokes the access tokens recorded with it"
        );
    }
    assert!(!tx.access_token_revoked("issued-at-alone").await.unwrap());
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("issued-2"), t(21))
            .await
            .unwrap(),
        RefreshUse::Reused { family: f } if f == family
    ));
    // A token written into the family after its revocation (a rotation racing it) is
    // refused by the family's flag, not its own.
    tx.record_issued_tokens(
        Some(&refresh(&user, &c, "issued-late", family)),
        "issued-at-late",
        t(300),
    )
    .await
    .unwrap();
    assert!(matches!(
        tx.use_refresh_token(&SecretHash::of("issued-late"), t(22))
            .await
            .unwrap(),
        RefreshUse::Reused { family: f } if f == family
    ));
    tx.record_issued_tokens(
        Some(&refresh(&user, &c, "issued-later", family)),
        "issued-at-later",
        t(300),
    )
    .await
    .unwrap();
    assert!(matches!(
        tx.use_refresh_token_and_user(&SecretHash::of("issued-later"), t(23))
            .await
            .unwrap(),
        (RefreshUse::Reused { family: f }, None) if f == family
    ));
    tx.commit().await.unwrap();
}

pub async fn consents_are_remembered_and_revocable(db: Arc<dyn Database>) {
    let (user, c) = world(&db).await;
    let mut tx = begin(&db).await;
    assert_eq!(tx.consent(user.id, c.id).await.unwrap(), None);
    tx.grant_consent(user.id, c.id, "openid", t(1))
        .await
        .unwrap();
    tx.grant_consent(user.id, c.id, "openid profile", t(2))
        .await
        .unwrap();
    let got = tx.consent(user.id, c.id).await.unwrap().unwrap();
    assert_eq!(
        (got.scope.as_str(), got.granted_at),
        ("openid profile", t(2))
    );
    assert_eq!(tx.consents_of(user.id).await.unwrap().len(), 1);
    tx.insert_refresh_token(&refresh(&user, &c, "held", Uuid::from_u128(77)))
        .await
        .unwrap();
    assert!(tx.revoke_consent(user.id, c.id, t(3)).await.unwrap());
    assert!(!tx.revoke_consent(user.id, c.id, t(4)).await.unwrap());
    assert!(
        matches!(
            tx.use_refresh_token(&SecretHash::of("held"), t(5))
                .await
                .unwrap(),
            RefreshUse::Reused { .. }
        ),
        "revoking consent revokes the app's tokens"
    );
    assert!(tx.consents_of(user.id).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}
