//! The tenant portal over real HTTP on both backends: a tenant admin (named by a platform
//! admin) registers an app and sees its secret once; the secret works at /token; a rotation
//! keeps the old secret working for its overlap only; revoking, editing, access rules and
//! deleting; form errors re-render with their messages; groups and their members; and
//! anyone who is not the tenant's admin gets 404 on every tenant page.

use crate::lifecycle::admin_browser;
use crate::support::{Browser, PASSWORD, Page, between};
use tessera_core::admin::{PlatformAdmin, create_tenant};
use tessera_core::tenants;
use tessera_domain::UserId;
use tessera_domain::user::{EmailAddress, User, UserState, UserType, Username};
use tessera_testkit::{Backend, TestServer};
use time::Duration;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Postgres).await
                }
            )*
        }
    };
}

on_both_backends!(
    tenant_admin_registers_an_app_and_rotates_its_secret,
    app_settings_access_rules_and_deletion,
    groups_and_their_members,
    only_the_tenants_admins_see_its_pages,
);

const CALLBACK: &str = "https://docs.example.gov.sg/callback";

/// An active account, straight into the store.
async fn active_user(server: &TestServer, username: &str, given: &str) -> User {
    let app = &server.app;
    let now = app.clock.now();
    let user = User {
        id: UserId::new_at(now, app.random.as_ref()),
        username: Username::parse(username).unwrap(),
        given_name: given.into(),
        family_name: "Tan".into(),
        email: EmailAddress::parse(&format!("{username}@agency.gov.sg")).unwrap(),
        mobile: None,
        department: "Digital Services".into(),
        user_type: UserType::Officer,
        state: UserState::Active,
        platform_admin: false,
        password_hash: Some(
            app.passwords
                .hash(PASSWORD, app.random.as_ref())
                .await
                .unwrap(),
        ),
        password_is_initial: false,
        sponsor: None,
        offshore: None,
        device_onboarding: false,
        activation_deadline: None,
        reminders_sent: 0,
        phone_verified_at: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = app.db.begin().await.unwrap();
    tx.insert_user(&user).await.unwrap();
    tx.commit().await.unwrap();
    user
}

/// A server with the tenant "docs", whose admin is Tina (not a platform admin), and Oscar,
/// an active user who administers nothing. Returns the server and Tina's signed-in browser.
async fn docs_tenant(backend: Backend) -> (TestServer, Browser) {
    let server = TestServer::start(backend).await;
    let cli = PlatformAdmin::operator_at_cli();
    create_tenant(&server.app, &cli, "docs", "Docs Agency")
        .await
        .unwrap();
    active_user(&server, "tina", "Tina").await;
    active_user(&server, "oscar", "Oscar").await;
    tenants::add_admin(&server.app, &cli, "docs", "tina")
        .await
        .unwrap();
    let mut tina = Browser::new(&server.base_url);
    let signed_in = tina.sign_in("tina", PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    (server, tina)
}

fn assert_redirect(page: &Page, to: &str) {
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some(to), "{}", page.body);
}

/// The answer of /token to a made-up authorization code, authenticating with
/// client_secret_basic: `(400, "invalid_grant")` means the secret was accepted,
/// `(401, "invalid_client")` that it was not.
async fn token_answer(server: &TestServer, client_id: &str, secret: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "not-a-code-we-issued"),
            ("redirect_uri", CALLBACK),
            (
                "code_verifier",
                "a-verifier-for-a-code-that-was-never-issued-0123",
            ),
        ])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn assert_works(server: &TestServer, client_id: &str, secret: &str, what: &str) {
    assert_eq!(
        token_answer(server, client_id, secret).await,
        (400, "invalid_grant".to_owned()),
        "{what} should authenticate"
    );
}

async fn assert_refused(server: &TestServer, client_id: &str, secret: &str, what: &str) {
    assert_eq!(
        token_answer(server, client_id, secret).await,
        (401, "invalid_client".to_owned()),
        "{what} should not authenticate"
    );
}

fn secret_on(page: &Page) -> Option<String> {
    between(
        &page.body,
        "<code id=\"client-secret\" class=\"break\">",
        "</code>",
    )
}

fn client_id_on(page: &Page) -> String {
    between(
        &page.body,
        "<code id=\"client-id\" class=\"break\">",
        "</code>",
    )
    .unwrap_or_else(|| panic!("no client id on the page: {}", page.body))
}

/// The app's id, from the first form on its page that acts on it.
fn app_id_on(page: &Page) -> String {
    between(&page.body, "action=\"/tenant/docs/apps/", "/")
        .unwrap_or_else(|| panic!("no app id on the page: {}", page.body))
}

/// The ids of the secrets listed on an app page, in the order shown.
fn secret_ids_on(page: &Page) -> Vec<String> {
    page.body
        .split("/secrets/")
        .skip(1)
        .filter_map(|rest| rest.split_once("/revoke\"").map(|(id, _)| id.to_owned()))
        .collect()
}

fn new_app_form<'a>(name: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("description", "Guides for agency developers"),
        ("redirect_uri", redirect),
        ("post_logout_redirect_uri", "https://docs.example.gov.sg/"),
        ("kind", "confidential"),
        ("grant", "authorization_code"),
        ("grant", "refresh_token"),
        ("scope", ""),
        ("access_token_ttl", "300"),
        ("refresh_idle_ttl", "86400"),
        ("refresh_absolute_ttl", "2592000"),
        ("id_token_alg", "ES256"),
        ("backchannel_logout_uri", ""),
        ("resource", ""),
        ("jwks_uri", ""),
        ("jwks", ""),
    ]
}

/// Registers the Docs app through the portal; returns the page that shows its secret.
async fn register_docs_app(tina: &mut Browser) -> Page {
    let page = tina
        .post(
            "/tenant/docs/apps/new",
            &new_app_form("Docs portal", CALLBACK),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    page
}

async fn tenant_admin_registers_an_app_and_rotates_its_secret(backend: Backend) {
    let (server, mut tina) = docs_tenant(backend).await;

    // The tenant list and the tenant's home.
    let list = tina.get("/tenant").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains("href=\"/tenant/docs\">Docs Agency</a>"),
        "{}",
        list.body
    );
    let home = tina.get("/tenant/docs").await;
    assert_eq!(home.status, 200, "{}", home.body);
    for expected in [
        "<h1>Docs Agency</h1>",
        "This tenant has no apps yet.",
        "tina@agency.gov.sg",
        "href=\"/tenant/docs/requests\"",
        "No one is waiting for access.",
    ] {
        assert!(
            home.body.contains(expected),
            "{expected:?} in {}",
            home.body
        );
    }
    let blank = tina.get("/tenant/docs/apps/new").await;
    assert_eq!(blank.status, 200, "{}", blank.body);
    assert!(blank.body.contains("<h1>Register an app</h1>"));

    // Bad input: each message next to its field, what was typed kept.
    let bad = tina
        .post(
            "/tenant/docs/apps/new",
            &new_app_form("", "http://example.com/callback"),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for expected in [
        "id=\"name-error\"",
        "An app name has 1–120 characters.",
        "id=\"redirect_uri-error\"",
        "plain http is allowed only for localhost",
        ">http:&#x2f;&#x2f;example.com&#x2f;callback</textarea>",
        ">Guides for agency developers</textarea>",
        "<option value=\"ES256\" selected>",
    ] {
        assert!(bad.body.contains(expected), "{expected:?} in {}", bad.body);
    }
    assert!(secret_on(&bad).is_none());
    let bad_ttl = new_app_form("Docs", CALLBACK)
        .into_iter()
        .map(|(k, v)| {
            if k == "access_token_ttl" {
                (k, "soon")
            } else {
                (k, v)
            }
        })
        .collect::<Vec<_>>();
    let bad = tina.post("/tenant/docs/apps/new", &bad_ttl).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("Enter a whole number of seconds."),
        "{}",
        bad.body
    );
    let no_grant: Vec<_> = new_app_form("Docs", CALLBACK)
        .into_iter()
        .filter(|(k, _)| *k != "grant")
        .collect();
    let bad = tina.post("/tenant/docs/apps/new", &no_grant).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("Choose at least one grant type."),
        "{}",
        bad.body
    );

    // Registered: the page answering the form shows the secret, once.
    let created = register_docs_app(&mut tina).await;
    let first = secret_on(&created).expect("the secret is shown after registering");
    assert!(created.body.contains("it will not be shown again"));
    assert_eq!(
        created.headers.get("cache-control").unwrap(),
        "no-store",
        "a page with a secret is never cached"
    );
    let client_id = client_id_on(&created);
    let app_id = app_id_on(&created);
    let app_path = format!("/tenant/docs/apps/{app_id}");
    let again = tina.get(&app_path).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(secret_on(&again).is_none());
    assert!(
        !again.body.contains(&first),
        "the secret is never shown again"
    );
    assert!(again.body.contains("No expiry"), "{}", again.body);
    // The app's client id opens its page too; the tenant's home lists it.
    assert_eq!(
        tina.get(&format!("/tenant/docs/apps/{client_id}"))
            .await
            .status,
        200
    );
    assert!(tina.get("/tenant/docs").await.body.contains(&app_path));

    // The secret works at /token; a wrong one does not.
    assert_works(&server, &client_id, &first, "the first secret").await;
    assert_refused(&server, &client_id, "not-the-secret", "a wrong secret").await;

    // Bad overlaps are refused next to the field.
    for (n, unit, message) in [
        ("31", "days", "between 0 and 30 days"),
        ("soon", "hours", "Enter a whole number, 0 or more."),
        ("-5", "minutes", "Enter a whole number, 0 or more."),
    ] {
        let page = tina
            .post(
                &format!("{app_path}/secrets/rotate"),
                &[("overlap", n), ("overlap_unit", unit)],
            )
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(page.body.contains("id=\"overlap-error\""), "{}", page.body);
        assert!(page.body.contains(message), "{message:?} in {}", page.body);
        assert!(
            page.body.contains(&format!("value=\"{n}\"")),
            "typed overlap kept"
        );
        assert!(secret_on(&page).is_none());
    }

    // Rotation with a 60-second overlap: both work inside it, only the new one after.
    let rotated = tina
        .post(
            &format!("{app_path}/secrets/rotate"),
            &[("overlap", "60"), ("overlap_unit", "seconds")],
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second = secret_on(&rotated).expect("the new secret is shown");
    assert_ne!(first, second);
    assert_works(
        &server,
        &client_id,
        &first,
        "the old secret inside the overlap",
    )
    .await;
    assert_works(&server, &client_id, &second, "the new secret").await;
    server.clock.advance(Duration::seconds(61));
    assert_refused(
        &server,
        &client_id,
        &first,
        "the old secret after the overlap",
    )
    .await;
    assert_works(
        &server,
        &client_id,
        &second,
        "the new secret after the overlap",
    )
    .await;
    let listed = tina.get(&app_path).await;
    assert!(listed.body.contains("Expired"), "{}", listed.body);
    assert!(secret_on(&listed).is_none());

    // An additional secret: both work.
    let added = tina.post(&format!("{app_path}/secrets"), &[]).await;
    assert_eq!(added.status, 200, "{}", added.body);
    let third = secret_on(&added).expect("the additional secret is shown");
    assert_works(&server, &client_id, &third, "the additional secret").await;
    assert_works(&server, &client_id, &second, "the second secret beside it").await;

    // Revoking the second: it stops working (once the token endpoint's 5-second cache of
    // the registration has passed, as for any change made on another node).
    let ids = secret_ids_on(&added);
    assert_eq!(ids.len(), 3, "{}", added.body);
    let revoked = tina
        .post(&format!("{app_path}/secrets/{}/revoke", ids[1]), &[])
        .await;
    assert_redirect(&revoked, &format!("{app_path}?notice=secret_revoked"));
    server.clock.advance(Duration::seconds(6));
    assert_refused(&server, &client_id, &second, "a revoked secret").await;
    assert_works(&server, &client_id, &third, "the remaining secret").await;
    let after = tina.get(&format!("{app_path}?notice=secret_revoked")).await;
    assert!(
        after.body.contains("The secret was revoked"),
        "{}",
        after.body
    );
    assert_eq!(secret_ids_on(&after).len(), 2);
    // A secret that does not exist (or of another app) is not found.
    assert_eq!(
        tina.post(&format!("{app_path}/secrets/{}/revoke", ids[1]), &[])
            .await
            .status,
        404
    );

    // Every change is in the tenant's audit trail.
    let cli = PlatformAdmin::operator_at_cli();
    let actions: Vec<String> = tessera_core::audit::newest(&server.app, &cli, None, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.action)
        .collect();
    crate::lifecycle::assert_has_actions(
        &actions,
        &[
            "app.create",
            "app.secret_rotate",
            "app.secret_add",
            "app.secret_revoke",
        ],
    );
}

async fn app_settings_access_rules_and_deletion(backend: Backend) {
    let (server, mut tina) = docs_tenant(backend).await;
    let created = register_docs_app(&mut tina).await;
    let app_path = format!("/tenant/docs/apps/{}", app_id_on(&created));

    // Settings: a bad redirect URI re-renders with the message and what was typed.
    let mut edit = new_app_form("Docs portal (new)", "http://example.com/cb");
    edit.retain(|(k, _)| *k != "kind");
    let bad = tina.post(&app_path, &edit).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body
            .contains("plain http is allowed only for localhost"),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("value=\"Docs portal (new)\""),
        "{}",
        bad.body
    );
    let edit = new_app_form("Docs portal (new)", "https://docs.example.gov.sg/cb2");
    assert_redirect(
        &tina.post(&app_path, &edit).await,
        &format!("{app_path}?notice=saved"),
    );
    let saved = tina.get(&format!("{app_path}?notice=saved")).await;
    assert!(
        saved.body.contains("<h1>Docs portal (new)</h1>"),
        "{}",
        saved.body
    );
    assert!(
        saved.body.contains("docs.example.gov.sg&#x2f;cb2"),
        "{}",
        saved.body
    );
    assert!(saved.body.contains("settings were saved"), "{}", saved.body);

    // Access rules: an unknown user is refused by name; then only listed users.
    let access_path = format!("{app_path}/access");
    let page = tina.get(&access_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("id=\"audience-everyone\" name=\"audience\" value=\"everyone\" checked")
    );
    let bad = tina
        .post(
            &access_path,
            &[("audience", "listed"), ("users", "tina\nnobody-here")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"users-error\""), "{}", bad.body);
    assert!(bad.body.contains("nobody-here"), "{}", bad.body);
    let ok = tina
        .post(
            &access_path,
            &[
                ("audience", "listed"),
                ("users", "tina\n\noscar"),
                ("user_type", "officer"),
                ("require_phishing_resistant", "on"),
            ],
        )
        .await;
    assert_redirect(&ok, &format!("{app_path}?notice=access_saved"));
    let page = tina.get(&access_path).await;
    assert!(
        page.body.contains(">tina\noscar</textarea>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"listed\" checked"));
    assert!(page.body.contains("value=\"officer\" checked"));
    assert!(page.body.contains(
        "id=\"require_phishing_resistant\" name=\"require_phishing_resistant\" value=\"on\" checked"
    ));
    assert!(
        !page
            .body
            .contains("id=\"offshore_allowed\" name=\"offshore_allowed\" value=\"on\" checked")
    );
    let shown = tina.get(&app_path).await;
    assert!(
        shown.body.contains("Only the listed users and groups"),
        "{}",
        shown.body
    );
    // Saving the settings keeps the access page's MFA requirement.
    assert_redirect(
        &tina.post(&app_path, &edit).await,
        &format!("{app_path}?notice=saved"),
    );
    let client = {
        let cli = PlatformAdmin::operator_at_cli();
        let cap = tenants::TenantAdmin::by_platform(&server.app, &cli, "docs")
            .await
            .unwrap();
        tenants::apps::get(&server.app, &cap, &app_id_on(&created))
            .await
            .unwrap()
    };
    assert!(client.require_phishing_resistant);
    assert_eq!(client.access.users.len(), 2);

    // Deletion needs the box ticked.
    let unconfirmed = tina.post(&format!("{app_path}/delete"), &[]).await;
    assert_eq!(unconfirmed.status, 422, "{}", unconfirmed.body);
    assert!(unconfirmed.body.contains("id=\"confirm_delete-error\""));
    let deleted = tina
        .post(&format!("{app_path}/delete"), &[("confirm", "on")])
        .await;
    assert_redirect(&deleted, "/tenant/docs?notice=app_deleted");
    assert_eq!(tina.get(&app_path).await.status, 404);
    let home = tina.get("/tenant/docs?notice=app_deleted").await;
    assert!(home.body.contains("The app was deleted."), "{}", home.body);
}

async fn groups_and_their_members(backend: Backend) {
    let (_server, mut tina) = docs_tenant(backend).await;
    let empty = tina.get("/tenant/docs/groups").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No groups yet."));

    let bad = tina
        .post(
            "/tenant/docs/groups",
            &[("name", "  "), ("description", "Kept")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"name-error\""), "{}", bad.body);
    assert!(bad.body.contains("A group name has 1–80 characters."));
    assert!(bad.body.contains("value=\"Kept\""));

    let created = tina
        .post(
            "/tenant/docs/groups",
            &[("name", "Finance"), ("description", "Finance officers")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let group_path = created
        .location
        .unwrap()
        .trim_end_matches("?notice=group_created")
        .to_owned();
    assert!(
        group_path.starts_with("/tenant/docs/groups/"),
        "{group_path}"
    );
    let page = tina.get(&group_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Finance</h1>") && page.body.contains("No members yet."));

    // The same name again (any case) is refused next to the field.
    let dup = tina
        .post(
            "/tenant/docs/groups",
            &[("name", "finance"), ("description", "")],
        )
        .await;
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert!(dup.body.contains("id=\"name-error\""), "{}", dup.body);
    assert!(dup.body.contains("already"), "{}", dup.body);
    assert!(dup.body.contains("value=\"finance\""));

    // Members: an unknown username is refused; Oscar is added, listed, removed.
    let members = format!("{group_path}/members");
    let bad = tina.post(&members, &[("username", "nobody-here")]).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"username-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"nobody-here\""));
    let empty = tina.post(&members, &[("username", "")]).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    assert_redirect(
        &tina.post(&members, &[("username", "oscar")]).await,
        &format!("{group_path}?notice=member_added"),
    );
    let page = tina.get(&group_path).await;
    assert!(page.body.contains("oscar@agency.gov.sg"), "{}", page.body);
    let oscar_id = between(&page.body, "/members/", "/remove\"").unwrap();
    assert_redirect(
        &tina
            .post(&format!("{members}/{oscar_id}/remove"), &[])
            .await,
        &format!("{group_path}?notice=member_removed"),
    );
    let page = tina.get(&group_path).await;
    assert!(!page.body.contains("oscar@agency.gov.sg"), "{}", page.body);

    // The group appears in the access rules' choices and on the tenant home.
    assert!(tina.get("/tenant/docs").await.body.contains(&group_path));

    // Deleting needs the box ticked.
    let delete = format!("{group_path}/delete");
    assert_eq!(tina.post(&delete, &[]).await.status, 422);
    assert_redirect(
        &tina.post(&delete, &[("confirm", "on")]).await,
        "/tenant/docs/groups?notice=group_deleted",
    );
    assert_eq!(tina.get(&group_path).await.status, 404);
}

async fn only_the_tenants_admins_see_its_pages(backend: Backend) {
    let (server, mut tina) = docs_tenant(backend).await;
    let cli = PlatformAdmin::operator_at_cli();
    create_tenant(&server.app, &cli, "other", "Other Agency")
        .await
        .unwrap();
    let created = register_docs_app(&mut tina).await;
    let app_id = app_id_on(&created);
    let group = tina
        .post(
            "/tenant/docs/groups",
            &[("name", "Finance"), ("description", "")],
        )
        .await;
    let group_path = group
        .location
        .unwrap()
        .trim_end_matches("?notice=group_created")
        .to_owned();
    let secret_id = secret_ids_on(&created)[0].clone();

    let gets = [
        "/tenant/docs".to_owned(),
        "/tenant/docs/apps/new".to_owned(),
        format!("/tenant/docs/apps/{app_id}"),
        format!("/tenant/docs/apps/{app_id}/access"),
        "/tenant/docs/groups".to_owned(),
        group_path.clone(),
    ];
    let posts = [
        "/tenant/docs/apps/new".to_owned(),
        format!("/tenant/docs/apps/{app_id}"),
        format!("/tenant/docs/apps/{app_id}/delete"),
        format!("/tenant/docs/apps/{app_id}/secrets"),
        format!("/tenant/docs/apps/{app_id}/secrets/rotate"),
        format!("/tenant/docs/apps/{app_id}/secrets/{secret_id}/revoke"),
        format!("/tenant/docs/apps/{app_id}/access"),
        "/tenant/docs/groups".to_owned(),
        format!("{group_path}/members"),
        format!("{group_path}/delete"),
    ];
    let form = [
        ("name", "Mine now"),
        ("confirm", "on"),
        ("overlap", "0"),
        ("overlap_unit", "seconds"),
        ("audience", "everyone"),
        ("username", "oscar"),
    ];

    // Oscar administers nothing: every page of the tenant is "not found", as for a tenant
    // that does not exist; his tenant list is empty.
    let mut oscar = Browser::new(&server.base_url);
    assert_eq!(oscar.sign_in("oscar", PASSWORD).await.status, 303);
    let list = oscar.get("/tenant").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("You do not administer any tenant."),
        "{}",
        list.body
    );
    for path in &gets {
        assert_eq!(oscar.get(path).await.status, 404, "GET {path}");
    }
    for path in &posts {
        assert_eq!(oscar.post(path, &form).await.status, 404, "POST {path}");
    }
    assert_eq!(oscar.get("/tenant/no-such-tenant").await.status, 404);

    // Tina administers "docs" only: "other" is not found, and so is docs' app under it.
    assert_eq!(tina.get("/tenant/other").await.status, 404);
    assert_eq!(
        tina.get(&format!("/tenant/other/apps/{app_id}"))
            .await
            .status,
        404
    );
    // Nothing changed: the app, its secret and the group are all still there.
    let still = tina.get(&format!("/tenant/docs/apps/{app_id}")).await;
    assert_eq!(still.status, 200);
    assert!(still.body.contains("<h1>Docs portal</h1>"));
    assert_eq!(secret_ids_on(&still), vec![secret_id]);
    assert_eq!(tina.get(&group_path).await.status, 200);

    // Not signed in: to the sign-in page. A platform admin administers every tenant.
    let mut anonymous = Browser::new(&server.base_url);
    let page = anonymous.get("/tenant/docs").await;
    assert_eq!(page.status, 303);
    assert!(page.location.unwrap().starts_with("/signin"));
    let mut admin = admin_browser(&server).await;
    assert_eq!(admin.get("/tenant/other").await.status, 200);
    assert_eq!(
        admin
            .get(&format!("/tenant/docs/apps/{app_id}"))
            .await
            .status,
        200
    );
}
