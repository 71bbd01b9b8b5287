//! Cursor pagination: `?limit=` (1–200, default 50) and `?cursor=` (opaque), answered with
//! `{"items": [...], "next_cursor": "…" | null}`. A cursor is the base64url of the last
//! key the previous page showed; lists the store returns whole are cut here by that key.

use super::problem::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The page a list request asks for.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items at most (1–200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field("limit", "The limit is between 1 and 200.")),
        }
    }

    /// The key the cursor carries, if any.
    pub fn after<K: FromStr>(&self) -> Result<Option<K>, ApiError> {
        let Some(c) = self.cursor.as_deref() else {
            return Ok(None);
        };
        URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<K>().ok())
            .map(Some)
            .ok_or_else(|| ApiError::field("cursor", "This cursor is not one Tessera gave out."))
    }
}

pub fn cursor_of(key: &impl ToString) -> String {
    URL_SAFE_NO_PAD.encode(key.to_string())
}

/// One page of a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Cuts a whole list into the requested page, ordered by `key` ascending.
pub fn paginate<T, K>(
    mut all: Vec<T>,
    query: &PageQuery,
    key: impl Fn(&T) -> K,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    K: Ord + FromStr + ToString,
{
    let limit = query.limit()? as usize;
    let after = query.after::<K>()?;
    all.sort_by_key(|t| key(t));
    let mut rest: Vec<T> = all
        .into_iter()
        .filter(|t| after.as_ref().is_none_or(|a| key(t) > *a))
        .collect();
    let next = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(|t| cursor_of(&key(t)))
    } else {
        None
    };
    Ok((rest, next))
}

/// A page fetched with one item more than asked: the extra one says there is a next page.
pub fn trim_fetched<T, K: ToString>(
    mut fetched: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if fetched.len() > limit {
        fetched.truncate(limit);
        let next = fetched.last().map(|t| cursor_of(&key(t)));
        (fetched, next)
    } else {
        (fetched, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_by_key() {
        let q = |limit, cursor: Option<String>| PageQuery { limit, cursor };
        let (page, next) = paginate(vec![5, 3, 1, 4, 2], &q(Some(2), None), |x| *x).unwrap();
        assert_eq!(page, vec![1, 2]);
        let (page, next) = paginate(vec![5, 3, 1, 4, 2], &q(Some(2), next), |x| *x).unwrap();
        assert_eq!(page, vec![3, 4]);
        let (page, next) = paginate(vec![5, 3, 1, 4, 2], &q(Some(2), next), |x| *x).unwrap();
        assert_eq!((page, next), (vec![5], None));
        assert!(paginate(vec![1], &q(Some(0), None), |x| *x).is_err());
        assert!(paginate(vec![1], &q(Some(201), None), |x| *x).is_err());
        assert!(paginate(vec![1], &q(None, Some("!!".into())), |x: &i64| *x).is_err());
    }
}
