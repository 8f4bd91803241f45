//! Which registry entry a door's key options address. Every door that takes a key
//! (the registry exports and commands, provisioning, reconcile) accepts the key parts; an
//! options object may also be a registry entry passed back (`registryRelease({...entry})`),
//! which carries the entry's own `taskKey` and `stage` instead of `stageNumber` /
//! `groupId`. This module decides what such options name, or refuses them with
//! `E_KEY_MISMATCH` when their fields name two different entries. The rule is in
//! `docs/formats.md` ("One id, one entry").

use crate::error::{Code, Coded};
use crate::ids::{check_segment, excerpt, KeyParts};

/// Options naming two different registry entries (`E_KEY_MISMATCH`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0}; the options name two different registry entries. Pass the entry's own key fields \
     (a registry entry passed back unchanged addresses itself); nothing changed"
)]
pub struct KeyMismatch(pub String);

impl Coded for KeyMismatch {
    fn code(&self) -> Code {
        Code::KeyMismatch
    }
}

/// What key options address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addressed {
    /// The exact key text of an entry (`taskKey` given): used as written, never slugged, so a
    /// row the Python helper wrote under raw text is addressed too.
    Exact(KeyParts),
    /// Key parts as a caller typed them: the registry resolves them (`Registry::resolve`).
    Parts(KeyParts),
}

impl Addressed {
    /// The key, whichever way it was given.
    pub fn parts(&self) -> &KeyParts {
        match self {
            Addressed::Exact(k) | Addressed::Parts(k) => k,
        }
    }
}

/// The entry that `parts` (checked, with `stageNumber` / `groupId`), an entry's `taskKey`
/// and an entry's `stage` address together.
///
/// - Without `task_key`: `stage` stands for `stageNumber` when that is absent; both given
///   and different, or `stage` with a `groupId`, is a mismatch.
/// - With `task_key`: it must be a key whose project, group and task slug to the same as
///   the parts'; a stage (`stageNumber` or `stage`) or `groupId` that is given must be the
///   key's own. A stage or group the options leave out is the key's (an entry has no
///   `stageNumber`). The result is the key text exactly as the entry holds it.
pub fn addressed(
    parts: KeyParts,
    task_key: Option<&str>,
    stage: Option<u32>,
) -> Result<Addressed, KeyMismatch> {
    let mut parts = parts;
    if let Some(s) = stage {
        match (parts.stage, &parts.group_id) {
            (Some(n), _) if n != s => {
                return Err(KeyMismatch(format!(
                    "stage {s} differs from stageNumber {n}"
                )))
            }
            (_, Some(g)) => {
                return Err(KeyMismatch(format!(
                    "stage {s} names a stage worktree but groupId {} a stage-group collector",
                    excerpt(g)
                )))
            }
            _ => parts.stage = Some(s),
        }
    }
    let Some(text) = task_key else {
        return Ok(Addressed::Parts(parts));
    };
    let key = KeyParts::parse(text)
        .filter(|k| {
            [&k.project_id, &k.task_group, &k.task_id]
                .into_iter()
                .chain(k.group_id.as_ref())
                .all(|s| check_segment("taskKey", s).is_ok())
        })
        .ok_or_else(|| {
            KeyMismatch(format!(
                "taskKey {} is not a task key (<project>/<group>/<task>[#stage-<N>|#group-<ID>])",
                excerpt(text)
            ))
        })?;
    let explicit_suffix = parts.stage.is_some() || parts.group_id.is_some();
    let compared = if explicit_suffix {
        parts.clone()
    } else {
        KeyParts {
            stage: key.stage,
            group_id: key.group_id.clone(),
            ..parts.clone()
        }
    };
    if !compared.same_entry(&key) {
        return Err(KeyMismatch(format!(
            "taskKey {} is not the key the other fields form ({})",
            excerpt(text),
            excerpt(&parts.slugged().key())
        )));
    }
    Ok(Addressed::Exact(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str, stage: Option<u32>, group: Option<&str>) -> KeyParts {
        KeyParts::new("shop", "pay", t, stage, group).unwrap()
    }

    #[test]
    fn an_entry_passed_back_addresses_itself() {
        // `{...stageEntry}`: no stageNumber, its `stage` and `taskKey`.
        let a = addressed(
            k("checkout", None, None),
            Some("shop/pay/checkout#stage-2"),
            Some(2),
        );
        assert_eq!(a, Ok(Addressed::Exact(k("checkout", Some(2), None))));
        // A collector entry: `stage` null, the group only in its key.
        let a = addressed(
            k("checkout", None, None),
            Some("shop/pay/checkout#group-s1-2"),
            None,
        );
        assert_eq!(a, Ok(Addressed::Exact(k("checkout", None, Some("s1-2")))));
        // A row written under raw text is addressed as written.
        let raw = KeyParts::new("shop", "pay", "Checkout 500", None, None).unwrap();
        let a = addressed(raw.clone(), Some("shop/pay/Checkout 500"), None);
        assert_eq!(a, Ok(Addressed::Exact(raw.clone())));
        // Raw parts with the slugged key agree (one entry).
        let a = addressed(raw, Some("shop/pay/checkout-500"), None);
        assert_eq!(a, Ok(Addressed::Exact(k("checkout-500", None, None))));
        // `stage` alone stands for stageNumber.
        let a = addressed(k("checkout", None, None), None, Some(3));
        assert_eq!(a, Ok(Addressed::Parts(k("checkout", Some(3), None))));
    }

    #[test]
    fn two_entries_in_one_options_object_are_refused() {
        let code = |r: Result<Addressed, KeyMismatch>| r.unwrap_err().code().as_str();
        let base = k("checkout", None, None);
        for (parts, key, stage) in [
            (
                k("checkout", Some(1), None),
                Some("shop/pay/checkout#stage-2"),
                None,
            ),
            (base.clone(), Some("shop/pay/checkout#stage-2"), Some(1)),
            (k("checkout", Some(1), None), None, Some(2)),
            (k("checkout", None, Some("g")), None, Some(2)),
            (k("other", None, None), Some("shop/pay/checkout"), None),
            (
                k("checkout", Some(2), None),
                Some("shop/pay/checkout"),
                None,
            ),
            (
                k("checkout", None, Some("g")),
                Some("shop/pay/checkout#group-h"),
                None,
            ),
            (base.clone(), Some("shop/pay"), None),
            (base.clone(), Some("shop/pay/checkout#stage-x"), None),
            (base.clone(), Some("shop/pay/check\nout"), None),
        ] {
            assert_eq!(
                code(addressed(parts, key, stage)),
                "E_KEY_MISMATCH",
                "{key:?}"
            );
        }
    }
}
