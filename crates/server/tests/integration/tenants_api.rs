//! The admin REST API over real HTTP on both backends. Done-when 3: every endpoint answers
//! 401 without credentials, and 403 or 404 — never 2xx — to a tenant admin of another
//! tenant (by API token and by portal session), while the tenant's own callers succeed.
//! Done-when 5: `Idempotency-Key` replays a POST instead of repeating it, refuses the key
//! for another request, and lets exactly one of concurrent duplicates through. Also: the
//! problem document shape, CSRF on session calls, and the OpenAPI document's routes.

mod world;

use reqwest::Method;
use serde_json::json;
use std::collections::BTreeSet;
use tessera_testkit::Backend;
use world::{Answer, Api, Caller, World, endpoints, fill, world};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(tessera_testkit::Backend::Postgres).await
                }
            )*
        }
    };
}

on_both_backends!(
    every_endpoint_refuses_strangers_and_other_tenants,
    idempotency_keys_replay_refuse_and_serialise,
    errors_are_problem_documents,
    edits_keep_what_they_do_not_name,
);

/// Done-when 3.
async fn every_endpoint_refuses_strangers_and_other_tenants(backend: Backend) {
    let w = world(backend).await;
    for (method, template, body) in endpoints() {
        let path = fill(&w, template);
        let a = w
            .api
            .call(&Caller::Nobody, method.clone(), &path, body.as_ref(), None)
            .await;
        assert_eq!(
            a.status, 401,
            "{method} {template} without credentials: {}",
            a.body
        );
        assert_eq!(
            a.content_type(),
            "application/problem+json",
            "{method} {template}"
        );
        assert_eq!(
            a.headers["www-authenticate"], "Bearer",
            "{method} {template}"
        );
        assert_eq!(a.body["status"], 401);
        let forged = w
            .api
            .call(
                &Caller::Token("not-a-token".into()),
                method.clone(),
                &path,
                body.as_ref(),
                None,
            )
            .await;
        assert_eq!(
            forged.status, 401,
            "{method} {template} with a forged token"
        );
    }

    // Tenant B's admin, by token and by portal session, against tenant A's resources.
    for (label, who) in [
        ("B's token", &w.beta_token),
        ("bob's session", &w.bob_session),
    ] {
        for (method, template, body) in endpoints() {
            let path = fill(&w, template);
            let a = w
                .api
                .call(who, method.clone(), &path, body.as_ref(), None)
                .await;
            if template == "/api/v1/tenants" && method == Method::GET {
                // The list is the caller's own tenants: B, never A.
                assert_eq!(a.status, 200, "{label}: {}", a.body);
                let slugs: Vec<&str> = a.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["slug"].as_str().unwrap())
                    .collect();
                assert_eq!(slugs, ["beta"], "{label}");
                continue;
            }
            assert!(
                a.status == 403 || a.status == 404,
                "{label}: {method} {template} answered {}: {}",
                a.status,
                a.body
            );
            assert_eq!(
                a.content_type(),
                "application/problem+json",
                "{label}: {method} {template}"
            );
        }
    }

    // Nothing of A's changed, and A's own callers succeed.
    let alpha = &w.alpha_token;
    let app = w
        .api
        .get(alpha, &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}"))
        .await;
    assert_eq!(app.status, 200, "{}", app.body);
    assert_eq!(app.body["name"], "Alpha web");
    let access = w
        .api
        .get(
            alpha,
            &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}/access"),
        )
        .await;
    assert_eq!(
        (access.status, &access.body["listed_only"]),
        (200, &json!(false))
    );
    let secrets = w
        .api
        .get(
            alpha,
            &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}/secrets"),
        )
        .await;
    assert_eq!(
        secrets.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        secrets.body
    );
    // A secret needs no body (or a null one); rotating needs the overlap.
    let secrets_path = fill(&w, "/api/v1/tenants/{tenant}/apps/{app}/secrets");
    let added = w
        .api
        .call(alpha, Method::POST, &secrets_path, None, None)
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert!(added.body["client_secret"].as_str().unwrap().len() >= 32);
    let added = w.api.post(alpha, &secrets_path, &json!(null), None).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let rotated = w
        .api
        .post(
            alpha,
            &secrets_path,
            &json!({"rotate_overlap_seconds": 3600}),
            None,
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let secrets = w.api.get(alpha, &secrets_path).await;
    let items = secrets.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{}", secrets.body);
    assert!(
        items[..3].iter().all(|s| s["expires_at"].is_string()),
        "{}",
        secrets.body
    );
    assert!(items[3]["expires_at"].is_null());
    let members = w
        .api
        .get(
            alpha,
            &fill(&w, "/api/v1/tenants/{tenant}/groups/{group}/members"),
        )
        .await;
    assert_eq!(members.status, 200);
    assert_eq!(members.body["items"][0]["username"], "carol");
    let requests = w
        .api
        .get(
            alpha,
            "/api/v1/tenants/alpha/access-requests?status=pending",
        )
        .await;
    assert_eq!(
        requests.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        requests.body
    );
    let groups = w.api.get(alpha, "/api/v1/tenants/alpha/groups").await;
    let names: Vec<&str> = groups.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Editors"]);
    let created = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/groups",
            &json!({"name": "Reviewers"}),
            None,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let approved = w
        .api
        .post(
            alpha,
            &fill(&w, "/api/v1/tenants/{tenant}/access-requests/{id}/approve"),
            &json!(null),
            None,
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    let audit = w
        .api
        .get(alpha, "/api/v1/tenants/alpha/audit?action=group.")
        .await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"].as_str().unwrap().starts_with("group.")),
        "{}",
        audit.body
    );
    // A tenant caller is not a platform administrator.
    assert_eq!(w.api.get(alpha, "/api/v1/users").await.status, 403);
    assert_eq!(w.api.get(alpha, "/api/v1/tenants/beta").await.status, 404);

    // Bob administers B through his session; the platform token reaches everything.
    let beta = w.api.get(&w.bob_session, "/api/v1/tenants/beta").await;
    assert_eq!((beta.status, &beta.body["slug"]), (200, &json!("beta")));
    let all = w
        .api
        .get(&w.platform_token, "/api/v1/tenants?limit=1")
        .await;
    assert_eq!(all.body["items"].as_array().unwrap().len(), 1);
    let cursor = all.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = w
        .api
        .get(
            &w.platform_token,
            &format!("/api/v1/tenants?limit=1&cursor={cursor}"),
        )
        .await;
    assert_ne!(rest.body["items"][0]["slug"], all.body["items"][0]["slug"]);
    let users = w
        .api
        .get(&w.platform_token, "/api/v1/users?limit=200")
        .await;
    assert_eq!(
        users.body["items"].as_array().unwrap().len(),
        3,
        "{}",
        users.body
    );
    let platform_app = w
        .api
        .get(
            &w.platform_token,
            &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}"),
        )
        .await;
    assert_eq!(platform_app.status, 200);

    // A session's unsafe call from another site is refused (CSRF), from ours it works.
    let cross = w
        .api
        .http
        .post(format!("{}/api/v1/tenants/beta/groups", w.api.base))
        .header(
            "cookie",
            match &w.bob_session {
                Caller::Session(c) => c.clone(),
                _ => unreachable!(),
            },
        )
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .json(&json!({"name": "Forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(cross.headers()["content-type"], "application/problem+json");
    let own = w
        .api
        .post(
            &w.bob_session,
            "/api/v1/tenants/beta/groups",
            &json!({"name": "Writers"}),
            None,
        )
        .await;
    assert_eq!(own.status, 201, "{}", own.body);

    // The document lists exactly the routes of the table, plus itself.
    let doc = w.api.get(&Caller::Nobody, "/api/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let documented: BTreeSet<String> = doc.body["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "put", "post", "delete"].contains(&k.as_str()))
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let mut expected: BTreeSet<String> = endpoints()
        .iter()
        .map(|(m, t, _)| format!("{m} {t}"))
        .collect();
    expected.insert("GET /api/v1/openapi.json".into());
    assert_eq!(documented, expected);
}

async fn count_named(w: &World, list: &str, name: &str) -> usize {
    let all = w
        .api
        .get(&w.alpha_token, &format!("{list}?limit=200"))
        .await;
    all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == name)
        .count()
}

/// Done-when 5.
async fn idempotency_keys_replay_refuse_and_serialise(backend: Backend) {
    let w = world(backend).await;
    let alpha = &w.alpha_token;
    let groups = "/api/v1/tenants/alpha/groups";
    let body = json!({"name": "Translators", "description": "Our translators"});

    let first = w.api.post(alpha, groups, &body, Some("key-group-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = w.api.post(alpha, groups, &body, Some("key-group-1")).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(count_named(&w, groups, "Translators").await, 1);

    // The same key for another request is refused, and changes nothing.
    let other = w
        .api
        .post(
            alpha,
            groups,
            &json!({"name": "Proofreaders"}),
            Some("key-group-1"),
        )
        .await;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(other.content_type(), "application/problem+json");
    assert!(
        other.body["type"]
            .as_str()
            .unwrap()
            .ends_with("idempotency-key-reused")
    );
    assert_eq!(count_named(&w, groups, "Proofreaders").await, 0);
    // Keys are per caller: B's same key is B's own.
    let beta = w
        .api
        .post(
            &w.beta_token,
            "/api/v1/tenants/beta/groups",
            &body,
            Some("key-group-1"),
        )
        .await;
    assert_eq!(beta.status, 201, "{}", beta.body);
    assert!(beta.headers.get("idempotent-replayed").is_none());

    // A failed request frees its key: the corrected retry runs.
    let bad = w
        .api
        .post(alpha, groups, &json!({"name": ""}), Some("key-group-2"))
        .await;
    assert_eq!(bad.status, 422);
    let fixed = w
        .api
        .post(alpha, groups, &json!({"name": ""}), Some("key-group-2"))
        .await;
    assert_eq!(
        fixed.status, 422,
        "the same bad request runs again, not replayed"
    );

    // An app: the replay does not repeat the secret shown once.
    let apps = "/api/v1/tenants/alpha/apps";
    let app = json!({"name": "Alpha reports", "redirect_uris": ["https://reports.example/cb"]});
    let created = w.api.post(alpha, apps, &app, Some("key-app-1")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 32);
    let replay = w.api.post(alpha, apps, &app, Some("key-app-1")).await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body["app"], created.body["app"]);
    assert!(replay.body["client_secret"].is_null(), "{}", replay.body);
    assert!(replay.body["secret_note"].is_string());
    assert!(!replay.body.to_string().contains(&secret));
    assert_eq!(count_named(&w, apps, "Alpha reports").await, 1);

    // Concurrent duplicates: exactly one runs; the others wait their turn as 409 or replay.
    let body = json!({"name": "Concurrent"});
    let mut calls = Vec::new();
    for _ in 0..8 {
        let api = Api {
            base: w.api.base.clone(),
            http: w.api.http.clone(),
        };
        let (who, body) = (alpha.clone(), body.clone());
        calls.push(tokio::spawn(async move {
            let a = api
                .post(
                    &who,
                    "/api/v1/tenants/alpha/groups",
                    &body,
                    Some("key-race"),
                )
                .await;
            (
                a.status,
                a.headers.get("idempotent-replayed").is_some(),
                a.body,
            )
        }));
    }
    let mut fresh = 0;
    for c in calls {
        let (status, replayed, body) = c.await.unwrap();
        match (status, replayed) {
            (201, false) => fresh += 1,
            (201, true) | (409, false) => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert_eq!(fresh, 1);
    assert_eq!(count_named(&w, groups, "Concurrent").await, 1);
    let settled = w.api.post(alpha, groups, &body, Some("key-race")).await;
    assert_eq!(settled.headers["idempotent-replayed"], "true");
}

async fn errors_are_problem_documents(backend: Backend) {
    let w = world(backend).await;
    let alpha = &w.alpha_token;
    let problem = |a: &Answer, status: u16| {
        assert_eq!(a.status, status, "{}", a.body);
        assert_eq!(a.content_type(), "application/problem+json");
        for field in ["type", "title", "detail"] {
            assert!(a.body[field].is_string(), "{field}: {}", a.body);
        }
        assert_eq!(a.body["status"], status);
    };

    // A validation error names its field.
    let a = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/groups",
            &json!({"name": "  "}),
            None,
        )
        .await;
    problem(&a, 422);
    assert!(a.body["errors"]["name"].is_string(), "{}", a.body);
    let a = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/apps",
            &json!({"name": "x", "grant_types": ["password"], "redirect_uris": ["nope"]}),
            None,
        )
        .await;
    problem(&a, 422);
    assert!(a.body["errors"]["grant_types"].is_string(), "{}", a.body);
    assert!(a.body["errors"]["redirect_uris"].is_string(), "{}", a.body);
    // Only platform administrators grant the platform scope.
    let a = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/apps",
            &json!({"name": "x", "grant_types": ["client_credentials"], "scopes": ["tessera:admin"]}),
            None,
        )
        .await;
    problem(&a, 422);
    assert!(a.body["errors"]["scopes"].is_string(), "{}", a.body);
    // A duplicate is a conflict.
    let a = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/groups",
            &json!({"name": "editors"}),
            None,
        )
        .await;
    problem(&a, 409);
    // Malformed JSON, the wrong type, no JSON at all.
    let raw = |ct: &'static str, body: &'static str| {
        let http = w.api.http.clone();
        let url = format!("{}/api/v1/tenants/alpha/groups", w.api.base);
        let Caller::Token(t) = alpha.clone() else {
            unreachable!()
        };
        async move {
            let r = http
                .post(url)
                .bearer_auth(t)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let headers = r.headers().clone();
            let body = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            Answer {
                status,
                headers,
                body,
            }
        }
    };
    problem(&raw("application/json", "{\"name\": ").await, 400);
    problem(&raw("application/json", "{\"name\": 5}").await, 422);
    problem(&raw("text/plain", "name=x").await, 415);
    problem(
        &raw("application/json", "{\"name\": \"a\\u0000b\"}").await,
        422,
    );
    // Bad path and query parameters, unknown routes and methods.
    let a = w
        .api
        .call(
            alpha,
            Method::DELETE,
            &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}/secrets/abc"),
            None,
            None,
        )
        .await;
    problem(&a, 400);
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/access-requests/nope/approve")
            .await,
        405,
    );
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/groups?limit=0")
            .await,
        422,
    );
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/groups?limit=ten")
            .await,
        400,
    );
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/groups?cursor=%21%21")
            .await,
        422,
    );
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/audit?since=yesterday")
            .await,
        422,
    );
    problem(
        &w.api
            .get(alpha, "/api/v1/tenants/alpha/access-requests?status=maybe")
            .await,
        400,
    );
    problem(&w.api.get(alpha, "/api/v1/no-such-thing").await, 404);
    problem(&w.api.get(alpha, "/api/v1/tenants/al%00pha").await, 400);
    problem(
        &w.api
            .call(alpha, Method::PATCH, "/api/v1/tenants/alpha", None, None)
            .await,
        405,
    );
    let a = w
        .api
        .post(
            alpha,
            "/api/v1/tenants/alpha/groups",
            &json!({"name": "X"}),
            Some("has space"),
        )
        .await;
    problem(&a, 400);
    // A secret rotation out of range.
    let a = w
        .api
        .post(
            alpha,
            &fill(&w, "/api/v1/tenants/{tenant}/apps/{app}/secrets"),
            &json!({"rotate_overlap_seconds": -1}),
            None,
        )
        .await;
    problem(&a, 422);
    assert!(a.body["errors"]["rotate_overlap_seconds"].is_string());
}

/// A PUT that leaves out the MFA requirement keeps it (it never switches a passkey
/// requirement off by omission), and a response carrying a secret is never cached.
async fn edits_keep_what_they_do_not_name(backend: Backend) {
    let w = world(backend).await;
    let who = &w.alpha_token;
    let app = format!("/api/v1/tenants/alpha/apps/{}", w.app_id);
    let set = w
        .api
        .call(
            who,
            Method::PUT,
            &format!("{app}/access"),
            Some(&json!({"require_phishing_resistant": true})),
            None,
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["require_phishing_resistant"], true);
    let edited = w
        .api
        .call(
            who,
            Method::PUT,
            &app,
            Some(&json!({"name": "Alpha web, renamed", "redirect_uris": ["https://alpha.example.gov.sg/callback"]})),
            None,
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(
        edited.body["require_phishing_resistant"], true,
        "{}",
        edited.body
    );
    let access = w
        .api
        .call(
            who,
            Method::PUT,
            &format!("{app}/access"),
            Some(&json!({"listed_only": true})),
            None,
        )
        .await;
    assert_eq!(access.status, 200, "{}", access.body);
    assert_eq!(
        access.body["require_phishing_resistant"], true,
        "{}",
        access.body
    );

    let secret = w
        .api
        .post(who, &format!("{app}/secrets"), &json!({}), None)
        .await;
    assert_eq!(secret.status, 201, "{}", secret.body);
    assert_eq!(
        secret
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}
