//! The OAuth store traits (clients, signing keys, grants) on a PostgreSQL connection.

use crate::PostgresTx;
use async_trait::async_trait;
use sqlx::types::Uuid;
use sqlx::{FromRow, Row};
use tessera_domain::clock::to_unix;
use tessera_domain::oauth::grant::{CodeRedemption, RefreshUse};
use tessera_domain::oauth::{
    AuthorizationCode, OAuthClient, RefreshToken, SigningAlg, SigningKeyRecord,
};
use tessera_domain::secret::SecretHash;
use tessera_domain::user::User;
use tessera_domain::{AppId, TenantId};
use tessera_store::{ClientStore, GrantStore, SigningKeyStore, StoreError};
use tessera_store_sql::{
    ClientRow, CodeRow, RefreshRow, SigningKeyRow, UserRow, access_rules_json, client_columns,
    code_columns, convert_all, db_err, join, key_columns, map_err, refresh_columns, user_columns,
};
use time::OffsetDateTime;

#[async_trait]
impl ClientStore for PostgresTx {
    async fn insert_client(&mut self, c: &OAuthClient) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO oauth_clients (",
            client_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        ))
        .bind(c.id.as_uuid())
        .bind(c.tenant_id.as_uuid())
        .bind(c.client_id.clone())
        .bind(c.name.clone())
        .bind(c.kind.as_str())
        .bind(join(&c.redirect_uris))
        .bind(join(c.grant_types.iter().map(|g| g.as_str())))
        .bind(join(&c.allowed_scopes))
        .bind(c.id_token_alg.as_str())
        .bind(c.access_token_ttl_secs)
        .bind(c.refresh_idle_ttl_secs)
        .bind(c.refresh_absolute_ttl_secs)
        .bind(c.require_par)
        .bind(join(&c.post_logout_redirect_uris))
        .bind(c.backchannel_logout_uri.clone())
        .bind(c.jwks.clone())
        .bind(c.jwks_uri.clone())
        .bind(c.consent_required)
        .bind(join(&c.allowed_resources))
        .bind(to_unix(c.created_at))
        .bind(c.require_phishing_resistant)
        .bind(c.description.clone())
        .bind(access_rules_json(&c.access)?)
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("client_id")))?;
        Ok(())
    }

    async fn client_by_client_id(
        &mut self,
        client_id: &str,
    ) -> Result<Option<OAuthClient>, StoreError> {
        sqlx::query_as::<_, ClientRow>(concat!(
            "SELECT ",
            client_columns!(),
            " FROM oauth_clients WHERE client_id = $1"
        ))
        .bind(client_id.to_owned())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?
        .map(OAuthClient::try_from)
        .transpose()
    }

    async fn list_clients(
        &mut self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query_as::<_, ClientRow>(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM oauth_clients WHERE tenant_id = $1 ORDER BY name, client_id"
                ))
                .bind(t.as_uuid())
                .fetch_all(self.handle.conn())
                .await
            }
            None => {
                sqlx::query_as::<_, ClientRow>(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM oauth_clients ORDER BY name, client_id"
                ))
                .fetch_all(self.handle.conn())
                .await
            }
        }
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn insert_client_secret(
        &mut self,
        client: AppId,
        secret_hmac: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO client_secrets (client, secret_hmac, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(client.as_uuid())
            .bind(secret_hmac.to_vec())
            .bind(to_unix(created_at))
            .bind(expires_at.map(to_unix))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn record_assertion_jti(
        &mut self,
        client: AppId,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("INSERT INTO client_assertion_jtis (client, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (client, jti) DO NOTHING")
            .bind(client.as_uuid())
            .bind(jti.to_owned())
            .bind(to_unix(expires_at))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn client_secret_hmacs(
        &mut self,
        client: AppId,
        now: OffsetDateTime,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT secret_hmac FROM client_secrets WHERE client = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC",
        )
        .bind(client.as_uuid())
        .bind(to_unix(now))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|r| {
                <[u8; 32]>::try_from(r.as_slice()).map_err(|_| {
                    StoreError::Corrupt("client_secrets.secret_hmac is not 32 bytes".into())
                })
            })
            .collect()
    }
}

#[async_trait]
impl SigningKeyStore for PostgresTx {
    async fn insert_signing_key(&mut self, k: &SigningKeyRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO signing_keys (",
            key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(k.kid.clone())
        .bind(k.alg.as_str())
        .bind(k.sealed_private.clone())
        .bind(k.public_jwk.clone())
        .bind(to_unix(k.created_at))
        .bind(k.retired_at.map(to_unix))
        .bind(k.expires_at.map(to_unix))
        .execute(self.handle.conn())
        .await
        .map_err(|e| map_err(e, Some("kid")))?;
        Ok(())
    }

    async fn published_signing_keys(
        &mut self,
        now: OffsetDateTime,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows = sqlx::query_as::<_, SigningKeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM signing_keys WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, kid DESC"
        ))
        .bind(to_unix(now))
        .fetch_all(self.handle.conn())
        .await
        .map_err(db_err)?;
        convert_all(rows)
    }

    async fn retire_signing_keys(
        &mut self,
        alg: SigningAlg,
        keep: &str,
        now: OffsetDateTime,
        publish_until: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, expires_at = $2 WHERE alg = $3 AND kid <> $4 AND retired_at IS NULL",
        )
        .bind(to_unix(now))
        .bind(to_unix(publish_until))
        .bind(alg.as_str())
        .bind(keep.to_owned())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl GrantStore for PostgresTx {
    async fn insert_authorization_code(&mut self, c: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(c.code_hash.as_bytes().to_vec())
        .bind(c.client.as_uuid())
        .bind(c.auth.user_id.as_uuid())
        .bind(c.redirect_uri.clone())
        .bind(c.scope.clone())
        .bind(c.nonce.clone())
        .bind(c.code_challenge.clone())
        .bind(to_unix(c.auth.auth_time))
        .bind(join(&c.auth.amr))
        .bind(c.auth.acr.clone())
        .bind(c.auth.sid.clone())
        .bind(to_unix(c.created_at))
        .bind(to_unix(c.expires_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &mut self,
        code_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<CodeRedemption, StoreError> {
        let redeemed = sqlx::query_as::<_, CodeRow>(concat!(
            "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL RETURNING ",
            code_columns!()
        ))
        .bind(to_unix(now))
        .bind(code_hash.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        if let Some(row) = redeemed {
            let code = AuthorizationCode::try_from(row)?;
            // Used up either way; an expired code is simply unknown to the caller.
            return Ok(if code.expires_at > now {
                CodeRedemption::Redeemed(code)
            } else {
                CodeRedemption::Unknown
            });
        }
        let seen: Option<Option<Uuid>> =
            sqlx::query_scalar("SELECT family_id FROM authorization_codes WHERE code_hash = $1")
                .bind(code_hash.as_bytes().to_vec())
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(match seen {
            Some(family) => CodeRedemption::Replayed { family },
            None => CodeRedemption::Unknown,
        })
    }

    async fn link_code_to_family(
        &mut self,
        code_hash: &SecretHash,
        family: Uuid,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE authorization_codes SET family_id = $1 WHERE code_hash = $2")
            .bind(family)
            .bind(code_hash.as_bytes().to_vec())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn insert_refresh_token(&mut self, t: &RefreshToken) -> Result<(), StoreError> {
        bind_refresh(
            sqlx::query(concat!(
                // One round trip: the family row (kept for revocation) and the token.
                "WITH family AS (INSERT INTO refresh_families (family_id) VALUES ($2) ",
                "ON CONFLICT (family_id) DO NOTHING) ",
                "INSERT INTO refresh_tokens (",
                refresh_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            )),
            t,
        )
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn record_issued_tokens(
        &mut self,
        refresh: Option<&RefreshToken>,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let Some(t) = refresh else {
            return self.record_access_token(jti, None, expires_at).await;
        };
        bind_refresh(
            sqlx::query(concat!(
                "WITH family AS (INSERT INTO refresh_families (family_id) VALUES ($2) ",
                "ON CONFLICT (family_id) DO NOTHING), ",
                "token AS (INSERT INTO refresh_tokens (",
                refresh_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)) ",
                "INSERT INTO issued_access_tokens (jti, family_id, expires_at) VALUES ($13, $2, $14)"
            )),
            t,
        )
        .bind(jti.to_owned())
        .bind(to_unix(expires_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn use_refresh_token(
        &mut self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<RefreshUse, StoreError> {
        let fresh = sqlx::query(concat!(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL ",
            "AND expires_at > $1 AND family_expires_at > $1 RETURNING ",
            refresh_columns!(),
            ", (SELECT f.revoked_at FROM refresh_families f WHERE f.family_id = refresh_tokens.family_id FOR SHARE) AS family_revoked_at"
        ))
        .bind(to_unix(now))
        .bind(token_hash.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        if let Some(row) = fresh {
            // The family's flag, read under a share lock in the same statement: a
            // concurrent revocation either lands first (and we refuse) or waits for this
            // rotation and then covers the token it issues, whose family row it updates.
            let revoked: Option<i64> = row.try_get("family_revoked_at").map_err(db_err)?;
            let token = RefreshToken::try_from(RefreshRow::from_row(&row).map_err(db_err)?)?;
            if revoked.is_some() {
                return Ok(RefreshUse::Reused {
                    family: token.family_id,
                });
            }
            return Ok(RefreshUse::Fresh(token));
        }
        unspendable(self, token_hash).await
    }

    async fn use_refresh_token_and_user(
        &mut self,
        token_hash: &SecretHash,
        now: OffsetDateTime,
    ) -> Result<(RefreshUse, Option<User>), StoreError> {
        // A rotation's first two reads in one round trip: spend the token (with its
        // family's flag under a share lock, as in `use_refresh_token`) and read its user.
        // The token's `created_at` is renamed: the user row has one too.
        let fresh = sqlx::query(concat!(
            "WITH spent AS (UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 ",
            "AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1 AND family_expires_at > $1 ",
            "RETURNING token_hash, family_id, client, user_id, scope, auth_time, amr, acr, sid, ",
            "created_at AS token_created_at, expires_at, family_expires_at, ",
            "(SELECT f.revoked_at FROM refresh_families f WHERE f.family_id = refresh_tokens.family_id FOR SHARE) ",
            "AS family_revoked_at) ",
            "SELECT spent.token_hash, spent.family_id, spent.client, spent.user_id, spent.scope, ",
            "spent.auth_time, spent.amr, spent.acr, spent.sid, spent.token_created_at, ",
            "spent.expires_at, spent.family_expires_at, spent.family_revoked_at, ",
            user_columns!(),
            " FROM spent JOIN users ON users.id = spent.user_id"
        ))
        .bind(to_unix(now))
        .bind(token_hash.as_bytes().to_vec())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        let Some(row) = fresh else {
            return Ok((unspendable(self, token_hash).await?, None));
        };
        let token = RefreshToken::try_from(RefreshRow {
            token_hash: row.try_get("token_hash").map_err(db_err)?,
            family_id: row.try_get("family_id").map_err(db_err)?,
            client: row.try_get("client").map_err(db_err)?,
            user_id: row.try_get("user_id").map_err(db_err)?,
            scope: row.try_get("scope").map_err(db_err)?,
            auth_time: row.try_get("auth_time").map_err(db_err)?,
            amr: row.try_get("amr").map_err(db_err)?,
            acr: row.try_get("acr").map_err(db_err)?,
            sid: row.try_get("sid").map_err(db_err)?,
            created_at: row.try_get("token_created_at").map_err(db_err)?,
            expires_at: row.try_get("expires_at").map_err(db_err)?,
            family_expires_at: row.try_get("family_expires_at").map_err(db_err)?,
        })?;
        let revoked: Option<i64> = row.try_get("family_revoked_at").map_err(db_err)?;
        if revoked.is_some() {
            return Ok((
                RefreshUse::Reused {
                    family: token.family_id,
                },
                None,
            ));
        }
        let user = User::try_from(UserRow::from_row(&row).map_err(db_err)?)?;
        Ok((RefreshUse::Fresh(token), Some(user)))
    }

    async fn refresh_token_family(
        &mut self,
        token_hash: &SecretHash,
    ) -> Result<Option<(Uuid, AppId)>, StoreError> {
        let found: Option<(Uuid, Uuid)> =
            sqlx::query_as("SELECT family_id, client FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash.as_bytes().to_vec())
                .fetch_optional(self.handle.conn())
                .await
                .map_err(db_err)?;
        Ok(found.map(|(f, c)| (f, AppId::from_uuid(c))))
    }

    async fn revoke_refresh_family(
        &mut self,
        family: Uuid,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refresh_families (family_id, revoked_at) VALUES ($1, $2) \
             ON CONFLICT (family_id) DO UPDATE SET revoked_at = COALESCE(refresh_families.revoked_at, excluded.revoked_at)",
        )
        .bind(family)
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(to_unix(now))
        .bind(family)
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO revoked_access_tokens (jti, expires_at) SELECT jti, expires_at FROM issued_access_tokens WHERE family_id = $1 AND expires_at > $2 ON CONFLICT (jti) DO NOTHING",
        )
        .bind(family)
        .bind(to_unix(now))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn record_access_token(
        &mut self,
        jti: &str,
        family: Option<Uuid>,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO issued_access_tokens (jti, family_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(jti.to_owned())
        .bind(family)
        .bind(to_unix(expires_at))
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_access_token(
        &mut self,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING")
            .bind(jti.to_owned())
            .bind(to_unix(expires_at))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn access_token_revoked(&mut self, jti: &str) -> Result<bool, StoreError> {
        // Revoked by itself, or through its refresh family (which also covers tokens a
        // concurrent revocation did not copy).
        let revoked: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $1) \
             OR EXISTS (SELECT 1 FROM issued_access_tokens i JOIN refresh_families f ON f.family_id = i.family_id \
                        WHERE i.jti = $2 AND f.revoked_at IS NOT NULL)",
        )
        .bind(jti.to_owned())
        .bind(jti.to_owned())
        .fetch_one(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(revoked)
    }
}

#[async_trait]
impl tessera_store::ConsentStore for PostgresTx {
    async fn consent(
        &mut self,
        user: tessera_domain::UserId,
        client: AppId,
    ) -> Result<Option<tessera_store::Consent>, StoreError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT scope, granted_at FROM consents WHERE user_id = $1 AND client = $2",
        )
        .bind(user.as_uuid())
        .bind(client.as_uuid())
        .fetch_optional(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(row.map(|(scope, at)| tessera_store::Consent {
            client,
            scope,
            granted_at: tessera_domain::clock::from_unix(at),
        }))
    }

    async fn grant_consent(
        &mut self,
        user: tessera_domain::UserId,
        client: AppId,
        scope: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO consents (user_id, client, scope, granted_at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, client) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at")
            .bind(user.as_uuid())
            .bind(client.as_uuid())
            .bind(scope.to_owned())
            .bind(to_unix(now))
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn revoke_consent(
        &mut self,
        user: tessera_domain::UserId,
        client: AppId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let gone = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client = $2")
            .bind(user.as_uuid())
            .bind(client.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND client = $3 AND revoked_at IS NULL")
            .bind(to_unix(now))
            .bind(user.as_uuid())
            .bind(client.as_uuid())
            .execute(self.handle.conn())
            .await
            .map_err(db_err)?;
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = COALESCE(revoked_at, $1) WHERE family_id IN \
             (SELECT family_id FROM refresh_tokens WHERE user_id = $2 AND client = $3)",
        )
        .bind(to_unix(now))
        .bind(user.as_uuid())
        .bind(client.as_uuid())
        .execute(self.handle.conn())
        .await
        .map_err(db_err)?;
        Ok(gone.rows_affected() == 1)
    }

    async fn consents_of(
        &mut self,
        user: tessera_domain::UserId,
    ) -> Result<Vec<tessera_store::Consent>, StoreError> {
        let rows: Vec<(Uuid, String, i64)> = sqlx::query_as("SELECT client, scope, granted_at FROM consents WHERE user_id = $1 ORDER BY granted_at DESC")
            .bind(user.as_uuid())
            .fetch_all(self.handle.conn())
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(c, scope, at)| tessera_store::Consent {
                client: AppId::from_uuid(c),
                scope,
                granted_at: tessera_domain::clock::from_unix(at),
            })
            .collect())
    }
}

/// A refresh token's twelve columns, bound in `refresh_columns!()` order as parameters 1–12.
fn bind_refresh<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    t: &RefreshToken,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(t.token_hash.as_bytes().to_vec())
        .bind(t.family_id)
        .bind(t.client.as_uuid())
        .bind(t.auth.user_id.as_uuid())
        .bind(t.scope.clone())
        .bind(to_unix(t.auth.auth_time))
        .bind(join(&t.auth.amr))
        .bind(t.auth.acr.clone())
        .bind(t.auth.sid.clone())
        .bind(to_unix(t.created_at))
        .bind(to_unix(t.expires_at))
        .bind(to_unix(t.family_expires_at))
}

/// Why a refresh token could not be spent: used or revoked (a replay, so its family is
/// revoked) or never issued / expired.
async fn unspendable(
    tx: &mut PostgresTx,
    token_hash: &SecretHash,
) -> Result<RefreshUse, StoreError> {
    let seen: Option<(Uuid, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT family_id, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(token_hash.as_bytes().to_vec())
    .fetch_optional(tx.handle.conn())
    .await
    .map_err(db_err)?;
    Ok(match seen {
        Some((family, used, revoked)) if used.is_some() || revoked.is_some() => {
            RefreshUse::Reused { family }
        }
        _ => RefreshUse::Unknown,
    })
}
