//! The OpenAPI 3.1 document of the admin API, served at `/api/v1/openapi.json`. Paths and
//! schemas come from the handlers' `#[utoipa::path]` and `ToSchema`; [`finish`] then adds
//! what every operation shares, in one place: the security schemes, the problem responses
//! each kind of operation can give, and the `Idempotency-Key` header of every POST.

use super::problem::{PROBLEM_JSON, Problem};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    Content, HeaderBuilder, Ref, RefOr, Required, ResponseBuilder, SecurityRequirement,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera admin API",
        version = "1",
        description = "Administer tenants, their apps, secrets, access rules, groups and \
            access requests, users, invitations and the audit log. Authenticate with an access \
            token of an app holding `tessera:admin` (platform) or `tessera:tenant` (its own \
            tenant), obtained with the client_credentials grant, or with a portal session. \
            Errors are RFC 9457 problem documents. Lists are paged with `limit` and `cursor`. \
            Every POST accepts an `Idempotency-Key`."
    ),
    components(schemas(Problem)),
    tags(
        (name = "tenants", description = "Tenants and their admins"),
        (name = "apps", description = "A tenant's apps, their secrets and access rules"),
        (name = "groups", description = "A tenant's groups and their members"),
        (name = "access requests", description = "Requests of people an app refused"),
        (name = "users", description = "The platform's accounts"),
        (name = "invitations", description = "Invitations to register"),
        (name = "audit", description = "The audit log"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// Problem responses shared by operations: (status, component name, description).
const PROBLEMS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "Malformed request: a bad path or query parameter, bad JSON or header",
    ),
    (
        "401",
        "Unauthorized",
        "No credentials, or an unusable access token",
    ),
    (
        "403",
        "Forbidden",
        "Not allowed for this caller (platform administration), or refused by the CSRF check",
    ),
    (
        "404",
        "NotFound",
        "No such resource, or one the caller does not administer",
    ),
    (
        "409",
        "Conflict",
        "Taken, in the wrong state, or a request with this Idempotency-Key is still running",
    ),
    ("415", "UnsupportedMediaType", "The body is not JSON"),
    (
        "422",
        "UnprocessableEntity",
        "Invalid input (per field in `errors`), or an Idempotency-Key reused for another request",
    ),
];

fn problem_ref(name: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::Ref(Ref::from_response_name(name))
}

/// Completes the generated document (see the module docs).
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".into(),
        RefOr::T(SecurityScheme::Http({
            let mut h = Http::new(HttpAuthScheme::Bearer);
            h.description = Some(
                "An access token from the client_credentials grant, of an app holding \
                 tessera:admin or tessera:tenant."
                    .into(),
            );
            h
        })),
    );
    components.security_schemes.insert(
        "session".into(),
        RefOr::T(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                "tessera_session",
                "A portal session (named __Host-tessera_session over https). Unsafe requests \
                 must be same-origin (Sec-Fetch-Site / Origin).",
            ),
        ))),
    );
    for (_, name, description) in PROBLEMS {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        PROBLEM_JSON,
                        Content::new(Some(Ref::from_schema_name("Problem"))),
                    )
                    .build(),
            ),
        );
    }
    doc.security = Some(vec![
        SecurityRequirement::new("bearer", Vec::<String>::new()),
        SecurityRequirement::new("session", Vec::<String>::new()),
    ]);

    for (path, item) in doc.paths.paths.iter_mut() {
        let public = path.ends_with("/openapi.json");
        for (method, op) in [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
        ] {
            if let Some(op) = op {
                complete_operation(op, method, public);
            }
        }
    }
    doc
}

fn complete_operation(op: &mut Operation, method: &str, public: bool) {
    if public {
        // Readable without credentials.
        op.security = Some(vec![SecurityRequirement::default()]);
        return;
    }
    let has_body = op.request_body.is_some();
    for (status, name, _) in PROBLEMS {
        let applies = match *status {
            "409" => method != "get",
            "415" => has_body,
            _ => true,
        };
        if applies {
            op.responses
                .responses
                .entry((*status).to_owned())
                .or_insert_with(|| problem_ref(name));
        }
    }
    if method == "post" {
        let key = ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Makes a retry safe: a repeat with the same key and the same request replays \
                 the first 2xx answer (with `Idempotent-Replayed: true`) instead of acting again. \
                 Keys are per caller; secrets shown once are not repeated in a replay.",
            ))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255))
                    .pattern(Some("^[!-~]{1,255}$")),
            ))
            .build();
        op.parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::T(key));
        for (status, response) in op.responses.responses.iter_mut() {
            if let (true, RefOr::T(r)) = (status.starts_with('2'), response) {
                r.headers.insert(
                    "Idempotent-Replayed".into(),
                    RefOr::T(
                        HeaderBuilder::new()
                            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                            .description(Some(
                                "`true` when this is the stored answer of an earlier request with \
                             the same Idempotency-Key",
                            ))
                            .build(),
                    ),
                );
            }
        }
    }
}
