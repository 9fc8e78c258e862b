//! Safety limits checked before apply changes anything (octoDNS's thresholds, Peribolos's
//! removal delta): a bad commit or a wrong endpoint must not be able to empty a site.

use std::collections::BTreeSet;

use crate::model::ApplyPolicy;
use crate::plan::model::{Action, ActionKind, LimitFlag};

/// Flag values that raise the limits for one run or one saved plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--max-deletes N`.
    pub max_deletes: Option<u32>,
    /// `--max-delete-percent P`.
    pub max_delete_percent: Option<u32>,
    /// `--max-update-percent P`.
    pub max_update_percent: Option<u32>,
}

/// A limit the plan would exceed. The message carries the numbers and the flag that allows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// Too many deletions.
    #[error(
        "the plan deletes {count} integrations, over the limit of {limit} (`[apply] max-deletes`); \
         review the deletions and pass `--max-deletes {count}` to allow them"
    )]
    Deletes {
        /// Deletions in the plan.
        count: u32,
        /// The limit.
        limit: u32,
    },
    /// Too large a share deleted.
    #[error(
        "the plan deletes {count} of {total} live integrations ({pct}%), over the limit of \
         {limit}% (`[apply] max-delete-percent`); pass `--max-delete-percent {pct}` to allow it"
    )]
    DeletePercent {
        /// Deletions.
        count: u32,
        /// Live integrations.
        total: u32,
        /// Share, rounded up.
        pct: u32,
        /// The limit.
        limit: u32,
    },
    /// Too large a share updated.
    #[error(
        "the plan changes {count} of {total} live integrations ({pct}%), over the limit of \
         {limit}% (`[apply] max-update-percent`); pass `--max-update-percent {pct}` to allow it"
    )]
    UpdatePercent {
        /// Updated integrations.
        count: u32,
        /// Live integrations.
        total: u32,
        /// Share, rounded up.
        pct: u32,
        /// The limit.
        limit: u32,
    },
}

impl Overrides {
    /// The value given for one flag.
    pub fn get(&self, flag: LimitFlag) -> Option<u32> {
        match flag {
            LimitFlag::MaxDeletes => self.max_deletes,
            LimitFlag::MaxDeletePercent => self.max_delete_percent,
            LimitFlag::MaxUpdatePercent => self.max_update_percent,
        }
    }

    /// Sets one flag.
    pub fn set(&mut self, flag: LimitFlag, value: u32) {
        match flag {
            LimitFlag::MaxDeletes => self.max_deletes = Some(value),
            LimitFlag::MaxDeletePercent => self.max_delete_percent = Some(value),
            LimitFlag::MaxUpdatePercent => self.max_update_percent = Some(value),
        }
    }

    /// The flags given, with their values.
    pub fn given(&self) -> Vec<(LimitFlag, u32)> {
        [
            LimitFlag::MaxDeletes,
            LimitFlag::MaxDeletePercent,
            LimitFlag::MaxUpdatePercent,
        ]
        .into_iter()
        .filter_map(|f| self.get(f).map(|v| (f, v)))
        .collect()
    }
}

impl Violation {
    /// The flag that raises the exceeded limit, and the value that lets this plan through.
    pub fn approval(&self) -> (LimitFlag, u32) {
        match self {
            Violation::Deletes { count, .. } => (LimitFlag::MaxDeletes, *count),
            Violation::DeletePercent { pct, .. } => (LimitFlag::MaxDeletePercent, *pct),
            Violation::UpdatePercent { pct, .. } => (LimitFlag::MaxUpdatePercent, *pct),
        }
    }
}

fn pct(count: u32, total: u32) -> u32 {
    if total == 0 {
        0
    } else {
        (count * 100).div_ceil(total)
    }
}

/// Checks `actions` against the policy. `live_total` is the number of live integrations on the
/// whole site (never a scoped subset, so a scoped run cannot slip past the limits).
pub fn check(
    actions: &[&Action],
    live_total: u32,
    policy: &ApplyPolicy,
    o: Overrides,
) -> Vec<Violation> {
    let mut v = Vec::new();
    let deletes = actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Delete { .. } | ActionKind::Replace { .. }
            )
        })
        .count() as u32;
    let updated: BTreeSet<&str> = actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Update { .. }
                    | ActionKind::Repositories { .. }
                    | ActionKind::RotateCredential { .. }
            )
        })
        .map(|a| a.key.as_str())
        .collect();
    let max_deletes = o.max_deletes.unwrap_or(policy.max_deletes);
    if deletes > max_deletes {
        v.push(Violation::Deletes {
            count: deletes,
            limit: max_deletes,
        });
    }
    if live_total >= policy.min_existing_for_percent {
        let limit = o.max_delete_percent.unwrap_or(policy.max_delete_percent);
        let p = pct(deletes, live_total);
        if deletes > 0 && p > limit {
            v.push(Violation::DeletePercent {
                count: deletes,
                total: live_total,
                pct: p,
                limit,
            });
        }
        let count = updated.len() as u32;
        let limit = o.max_update_percent.unwrap_or(policy.max_update_percent);
        let p = pct(count, live_total);
        if count > 0 && p > limit {
            v.push(Violation::UpdatePercent {
                count,
                total: live_total,
                pct: p,
                limit,
            });
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::model::Phase;

    fn action(step: u32, kind: ActionKind) -> Action {
        Action {
            step,
            key: format!("k{step}"),
            target_id: Some(u64::from(step)),
            kind,
            phase: Phase::Delete,
            starts_indexing: false,
            estimated_indexing_secs: None,
            api_calls: 1,
            risks: vec![],
            live_fingerprint: None,
            desired_fingerprint: None,
        }
    }

    fn delete(step: u32) -> Action {
        action(
            step,
            ActionKind::Delete {
                display_name: "x".into(),
                service: "github".into(),
                owner: "o".into(),
                repositories: 1,
            },
        )
    }

    #[test]
    fn count_limit_refuses_and_names_the_flag() {
        let acts: Vec<Action> = (1..=6).map(delete).collect();
        let refs: Vec<&Action> = acts.iter().collect();
        let v = check(&refs, 100, &ApplyPolicy::default(), Overrides::default());
        assert_eq!(v, vec![Violation::Deletes { count: 6, limit: 5 }]);
        assert!(v[0].to_string().contains("--max-deletes 6"));
        assert!(
            check(
                &refs,
                100,
                &ApplyPolicy::default(),
                Overrides {
                    max_deletes: Some(6),
                    ..Default::default()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn percentage_applies_only_above_the_floor() {
        let acts: Vec<Action> = (1..=4).map(delete).collect();
        let refs: Vec<&Action> = acts.iter().collect();
        // 4 of 10 = 40% > 30%.
        let v = check(&refs, 10, &ApplyPolicy::default(), Overrides::default());
        assert_eq!(
            v,
            vec![Violation::DeletePercent {
                count: 4,
                total: 10,
                pct: 40,
                limit: 30
            }]
        );
        // A site of 5 is below the floor of 10: only the count limit applies.
        assert!(check(&refs, 5, &ApplyPolicy::default(), Overrides::default()).is_empty());
    }

    #[test]
    fn update_share_is_per_integration() {
        let acts = [
            action(1, ActionKind::Update { changes: vec![] }),
            Action {
                key: "k1".into(),
                ..action(
                    2,
                    ActionKind::Repositories {
                        enable: vec![],
                        disable: vec![],
                    },
                )
            },
        ];
        let refs: Vec<&Action> = acts.iter().collect();
        let policy = ApplyPolicy {
            max_update_percent: 5,
            ..ApplyPolicy::default()
        };
        let v = check(&refs, 20, &policy, Overrides::default());
        // Two actions on one integration: 1 of 20 = 5%, not over 5%.
        assert!(v.is_empty(), "{v:?}");
        let policy = ApplyPolicy {
            max_update_percent: 4,
            ..ApplyPolicy::default()
        };
        assert_eq!(
            check(&refs, 20, &policy, Overrides::default()),
            vec![Violation::UpdatePercent {
                count: 1,
                total: 20,
                pct: 5,
                limit: 4
            }]
        );
    }
}
