//! Deciding what to do, without doing anything: the shopper's subscriptions, the intent, the
//! shop's policy and keyroute's history go in; the steps (which subscriptions, which dates,
//! or why not) come out. Pure: no I/O, no clock (the caller passes `now_ms`), so every rule
//! has a unit test below.

use std::time::Duration;

use jiff::civil::Date;

use crate::domain::{
    Action, FailureReason, Intent, Multiple, NextDate, PlatformKind, Shopper, Subscription,
    add_days,
};
use crate::shop::Policy;
use crate::store::{History, OutcomeRef, PastChange, Target};

/// One thing to do for a message; its position in the plan is its outcome's `seq`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Make this platform write.
    Write(Write),
    /// Tell the shopper it cannot be done (`keyword_action_failed`).
    Fail(Failure),
    /// Answer HELP (`keyword_help`), with the next date when known.
    Help { next_date: Option<Date> },
    /// Answer "when is my next order?" for one subscription (`order_status`).
    Status { subscription: Subscription },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub action: Action,
    pub target: Target,
    /// The next order before the write.
    pub previous: NextDate,
    /// The date a set-date asks for (DELAY, UNDO); `None` for a skip.
    pub target_date: Option<Date>,
    pub undoes: Option<OutcomeRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub action: Action,
    pub reason: FailureReason,
    pub detail: String,
    /// The next order the shopper is told about, when known.
    pub next_date: Option<Date>,
    pub platform: Option<PlatformKind>,
    pub subscription_id: Option<String>,
    pub undoes: Option<OutcomeRef>,
}

impl Failure {
    fn new(action: Action, reason: FailureReason, detail: &str, next_date: Option<Date>) -> Self {
        Failure {
            action,
            reason,
            detail: detail.to_owned(),
            next_date,
            platform: None,
            subscription_id: None,
            undoes: None,
        }
    }
}

/// The start of a window of `window` ending now.
fn since(now_ms: i64, window: Duration) -> i64 {
    now_ms - i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2)
}

/// How far back the planner needs history for this policy.
pub fn history_window(policy: &Policy) -> Duration {
    policy.already_skipped_window.max(policy.undo_window)
}

/// The subscriptions a SKIP or DELAY acts on. `Next`: every one whose next date is the
/// earliest (orders on the same day ship together). `All`: every active one. Stable order:
/// date, platform, id.
pub fn choose_targets(mut subs: Vec<Subscription>, multiple: Multiple) -> Vec<Subscription> {
    subs.sort_by(|a, b| {
        (a.next.date, a.platform.as_str(), &a.id).cmp(&(b.next.date, b.platform.as_str(), &b.id))
    });
    if multiple == Multiple::Next
        && let Some(first) = subs.first().map(|s| s.next.date)
    {
        subs.retain(|s| s.next.date == first);
    }
    subs
}

/// SKIP or DELAY.
pub fn plan_change(
    intent: &Intent,
    policy: &Policy,
    now_ms: i64,
    shopper: &Shopper,
    subs: Vec<Subscription>,
    history: &History,
) -> Vec<Step> {
    let action = intent.action;
    let Some(earliest) = subs.iter().map(|s| s.next.date).min() else {
        return vec![Step::Fail(Failure::new(
            action,
            FailureReason::NoSubscription,
            "no active subscription on any configured platform",
            None,
        ))];
    };
    if action == Action::Delay
        && let (Some(days), Some(max)) = (intent.days, intent.max_days)
        && days > max
    {
        return vec![Step::Fail(Failure::new(
            action,
            FailureReason::NotAllowed,
            &format!("delay of {days} days exceeds the rule's maximum of {max}"),
            Some(earliest),
        ))];
    }
    let double_text =
        action == Action::Skip && recent_skip_in_effect(policy, now_ms, &subs, history);
    choose_targets(subs, policy.multiple)
        .into_iter()
        .map(|sub| {
            if action == Action::Skip
                && (double_text || already_skipped(policy, now_ms, &sub, history))
            {
                return Step::Fail(Failure {
                    platform: Some(sub.platform),
                    subscription_id: Some(sub.id.clone()),
                    ..Failure::new(
                        action,
                        FailureReason::AlreadySkipped,
                        "this order was already skipped by an earlier SKIP",
                        Some(sub.next.date),
                    )
                });
            }
            let target_date = match (action, intent.until) {
                (Action::Delay, Some(until)) => {
                    // A named date: the order moves there, if that is later than it is now
                    // and within the rule's limit.
                    let refuse = |why: String| {
                        Step::Fail(Failure {
                            platform: Some(sub.platform),
                            subscription_id: Some(sub.id.clone()),
                            ..Failure::new(
                                action,
                                FailureReason::NotAllowed,
                                &why,
                                Some(sub.next.date),
                            )
                        })
                    };
                    if until <= sub.next.date {
                        return refuse(format!(
                            "{until} is not later than the order's date {}",
                            sub.next.date
                        ));
                    }
                    if let Some(max) = intent.max_days
                        && until > add_days(sub.next.date, max)
                    {
                        return refuse(format!(
                            "{until} is more than the rule's maximum of {max} days after {}",
                            sub.next.date
                        ));
                    }
                    Some(until)
                }
                (Action::Delay, None) => Some(add_days(sub.next.date, intent.days.unwrap_or(0))),
                _ => None,
            };
            Step::Write(Write {
                action,
                previous: sub.next,
                target_date,
                undoes: None,
                target: Target {
                    subscription: sub,
                    shopper: shopper.clone(),
                },
            })
        })
        .collect()
}

/// STATUS: the next order of each subscription the shop's `multiple` names, read from the
/// platform; no write.
pub fn plan_status(policy: &Policy, subs: Vec<Subscription>) -> Vec<Step> {
    if subs.is_empty() {
        return vec![Step::Fail(Failure::new(
            Action::Status,
            FailureReason::NoSubscription,
            "no active subscription on any configured platform",
            None,
        ))];
    }
    choose_targets(subs, policy.multiple)
        .into_iter()
        .map(|subscription| Step::Status { subscription })
        .collect()
}

/// HELP can always be answered: with the next delivery date when the subscriptions could be
/// learned, without it otherwise.
pub fn plan_help(subs: Option<&[Subscription]>) -> Vec<Step> {
    let next_date = subs.and_then(|s| s.iter().map(|s| s.next.date).min());
    vec![Step::Help { next_date }]
}

/// The not-undone changes of the shopper's latest message within `window`, newest first.
fn latest_changes(history: &History, now_ms: i64, window: Duration) -> Vec<&PastChange> {
    let from = since(now_ms, window);
    let live: Vec<&PastChange> = history
        .changes
        .iter()
        .filter(|c| c.at_ms >= from && !c.undone)
        .collect();
    let Some(latest) = live.first().map(|c| c.outcome.message_id.clone()) else {
        return Vec::new();
    };
    live.into_iter()
        .filter(|c| c.outcome.message_id == latest)
        .collect()
}

/// For a SKIP: true when the shopper's latest keyroute change within the window was a skip
/// that is still in effect (a subscription's date is still the one it produced). A second
/// SKIP then is a double text, not a request to skip whatever ships next now, which with two
/// subscriptions would be the other one.
fn recent_skip_in_effect(
    policy: &Policy,
    now_ms: i64,
    subs: &[Subscription],
    history: &History,
) -> bool {
    if policy.already_skipped_window.is_zero() {
        return false;
    }
    let latest = latest_changes(history, now_ms, policy.already_skipped_window);
    latest.iter().all(|c| c.outcome.action == Action::Skip)
        && latest.iter().any(|c| {
            subs.iter().any(|s| {
                Some(s.platform) == c.outcome.platform
                    && Some(&s.id) == c.outcome.subscription_id.as_ref()
                    && Some(s.next.date) == c.outcome.new_date
            })
        })
}

/// For a SKIP: true when keyroute itself skipped this subscription within the window and its
/// next date is still the one that skip produced: the order the shopper is looking at has
/// already been skipped.
fn already_skipped(policy: &Policy, now_ms: i64, sub: &Subscription, history: &History) -> bool {
    if policy.already_skipped_window.is_zero() {
        return false;
    }
    let from = since(now_ms, policy.already_skipped_window);
    history.last_skips.iter().any(|s| {
        s.platform == sub.platform
            && s.subscription_id == sub.id
            && s.at_ms >= from
            && s.new_date == sub.next.date
    })
}

/// What UNDO would reverse: the not-undone skips and delays of the shopper's latest message
/// within the undo window.
pub fn undo_originals<'h>(
    policy: &Policy,
    now_ms: i64,
    history: &'h History,
) -> Vec<&'h PastChange> {
    latest_changes(history, now_ms, policy.undo_window)
}

/// A change UNDO would reverse, and its subscription as the platform has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoCheck {
    pub change: PastChange,
    pub now: Now,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Now {
    /// The change cannot be checked or reversed here (its platform is no longer configured).
    Unreachable,
    /// The subscription is no longer active.
    Gone,
    Is(Subscription),
}

/// UNDO: set each subscription of the shopper's last change back to the date it had before,
/// provided its next date is still the one keyroute set. Anything else is `not_allowed`.
pub fn plan_undo(checks: Vec<UndoCheck>) -> Vec<Step> {
    if checks.is_empty() {
        return vec![Step::Fail(Failure::new(
            Action::Undo,
            FailureReason::NotAllowed,
            "nothing to undo",
            None,
        ))];
    }
    checks
        .into_iter()
        .map(|UndoCheck { change, now }| {
            let orig = change.outcome;
            let undoes = Some(OutcomeRef {
                message_id: orig.message_id.clone(),
                seq: orig.seq,
            });
            let fail = |detail: &str, next_date| {
                Step::Fail(Failure {
                    platform: orig.platform,
                    subscription_id: orig.subscription_id.clone(),
                    undoes: undoes.clone(),
                    ..Failure::new(Action::Undo, FailureReason::NotAllowed, detail, next_date)
                })
            };
            match (now, &orig.target) {
                (Now::Is(cur), Some(target)) if Some(cur.next.date) == orig.new_date => {
                    Step::Write(Write {
                        action: Action::Undo,
                        previous: cur.next,
                        target_date: orig.previous.map(|p| p.date),
                        undoes,
                        target: Target {
                            subscription: cur,
                            shopper: target.shopper.clone(),
                        },
                    })
                }
                (Now::Is(cur), _) => fail(
                    "the order date changed since keyroute set it",
                    Some(cur.next.date),
                ),
                (Now::Gone, _) => fail("the subscription is no longer active", None),
                (Now::Unreachable, _) => {
                    fail("the original change cannot be reversed here", orig.new_date)
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LastSkip, Outcome, OutcomeState};
    use jiff::civil::date;

    const HOUR: i64 = 3_600_000;
    const NOW: i64 = 1_900_000_000_000;

    fn policy(multiple: Multiple) -> Policy {
        Policy {
            multiple,
            already_skipped_window: Duration::from_secs(72 * 3600),
            undo_window: Duration::from_secs(72 * 3600),
        }
    }

    fn sub(platform: PlatformKind, id: &str, d: Date) -> Subscription {
        Subscription {
            platform,
            id: id.into(),
            next: NextDate { date: d, at: None },
            extra: Default::default(),
        }
    }

    fn shopper() -> Shopper {
        Shopper {
            phone: "+15555550101".into(),
            ..Shopper::default()
        }
    }

    fn intent(action: Action, days: Option<u32>) -> Intent {
        Intent {
            action,
            days,
            until: None,
            rule: action.as_str().into(),
            keyword: action.as_str().into(),
            max_days: (action == Action::Delay).then_some(90),
        }
    }

    /// A done change of an earlier message: `sub` moved from `prev` to `new`, `hours_ago`.
    fn change(
        message: &str,
        action: Action,
        s: &Subscription,
        prev: Date,
        new: Date,
        hours_ago: i64,
    ) -> PastChange {
        let mut o = Outcome::new(message, 0, action);
        o.state = OutcomeState::Done;
        o.platform = Some(s.platform);
        o.subscription_id = Some(s.id.clone());
        o.previous = Some(NextDate {
            date: prev,
            at: None,
        });
        o.new_date = Some(new);
        o.target = Some(Target {
            subscription: sub(s.platform, &s.id, prev),
            shopper: shopper(),
        });
        PastChange {
            outcome: o,
            at_ms: NOW - hours_ago * HOUR,
            undone: false,
        }
    }

    fn writes(steps: &[Step]) -> Vec<(&str, Option<Date>)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Write(w) => Some((w.target.subscription.id.as_str(), w.target_date)),
                _ => None,
            })
            .collect()
    }

    fn failure(steps: &[Step]) -> &Failure {
        match &steps[0] {
            Step::Fail(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn multiple_next_acts_on_every_subscription_of_the_earliest_date() {
        let subs = vec![
            sub(PlatformKind::Skio, "b", date(2026, 12, 5)),
            sub(PlatformKind::Skio, "a", date(2026, 12, 1)),
            sub(PlatformKind::Loop, "c", date(2026, 12, 1)),
        ];
        let next = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            subs.clone(),
            &History::default(),
        );
        assert_eq!(
            writes(&next),
            [("c", None), ("a", None)],
            "by date, platform, id"
        );
        let all = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::All),
            NOW,
            &shopper(),
            subs,
            &History::default(),
        );
        assert_eq!(writes(&all).len(), 3);
    }

    #[test]
    fn no_subscription_is_a_failure_without_a_date() {
        let steps = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            Vec::new(),
            &History::default(),
        );
        let f = failure(&steps);
        assert_eq!(f.reason, FailureReason::NoSubscription);
        assert_eq!(f.next_date, None);
    }

    #[test]
    fn a_delay_over_the_maximum_is_refused_with_the_next_date() {
        let d = date(2026, 12, 1);
        let steps = plan_change(
            &intent(Action::Delay, Some(91)),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![sub(PlatformKind::Skio, "a", d)],
            &History::default(),
        );
        assert_eq!(steps.len(), 1);
        let f = failure(&steps);
        assert_eq!(f.reason, FailureReason::NotAllowed);
        assert_eq!(f.next_date, Some(d));
        let at_max = plan_change(
            &intent(Action::Delay, Some(90)),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![sub(PlatformKind::Skio, "a", d)],
            &History::default(),
        );
        assert_eq!(writes(&at_max), [("a", Some(date(2027, 3, 1)))]);
    }

    #[test]
    fn a_delay_to_a_date_moves_there_within_the_limits() {
        let mut until = intent(Action::Delay, None);
        let plan = |i: &Intent| {
            plan_change(
                i,
                &policy(Multiple::Next),
                NOW,
                &shopper(),
                vec![sub(PlatformKind::Skio, "a", date(2026, 12, 1))],
                &History::default(),
            )
        };
        until.until = Some(date(2026, 12, 21));
        assert_eq!(writes(&plan(&until)), [("a", Some(date(2026, 12, 21)))]);
        // Not later than the order's date: refused, nothing written.
        for d in [date(2026, 12, 1), date(2026, 11, 20)] {
            until.until = Some(d);
            let steps = plan(&until);
            assert!(writes(&steps).is_empty());
            assert_eq!(failure(&steps).reason, FailureReason::NotAllowed);
        }
        // Within max_days (90) of the order's date, and not beyond.
        until.until = Some(date(2027, 3, 1));
        assert_eq!(writes(&plan(&until)), [("a", Some(date(2027, 3, 1)))]);
        until.until = Some(date(2027, 3, 2));
        assert_eq!(failure(&plan(&until)).reason, FailureReason::NotAllowed);
    }

    #[test]
    fn delay_dates_are_calendar_days_in_the_shops_zone() {
        // 2026-10-31 22:30 in New York is already November 1 in UTC; the shop's date is what
        // counts, and 14 days later crosses the end of DST without losing a day.
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let next = crate::domain::parse_platform_date("2026-11-01T02:30:00Z", &ny).unwrap();
        assert_eq!(next.date, date(2026, 10, 31));
        let mut s = sub(PlatformKind::Loop, "41001", next.date);
        s.next = next;
        let steps = plan_change(
            &intent(Action::Delay, Some(14)),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![s],
            &History::default(),
        );
        assert_eq!(writes(&steps), [("41001", Some(date(2026, 11, 14)))]);
        match &steps[0] {
            Step::Write(w) => assert_eq!(w.previous, next, "the instant is kept for the write"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_second_skip_of_an_order_keyroute_skipped_is_already_skipped() {
        let skipped_to = date(2026, 12, 31);
        let s = sub(PlatformKind::Skio, "a", skipped_to);
        let mut history = History {
            last_skips: vec![LastSkip {
                platform: PlatformKind::Skio,
                subscription_id: "a".into(),
                new_date: skipped_to,
                at_ms: NOW - 10 * HOUR,
            }],
            ..History::default()
        };
        let steps = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![s.clone()],
            &history,
        );
        let f = failure(&steps);
        assert_eq!(f.reason, FailureReason::AlreadySkipped);
        assert_eq!(f.next_date, Some(skipped_to));
        assert_eq!(f.subscription_id.as_deref(), Some("a"));

        // Outside the window, or with the window off, it is a new skip.
        history.last_skips[0].at_ms = NOW - 73 * HOUR;
        let later = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![s.clone()],
            &history,
        );
        assert_eq!(writes(&later).len(), 1);
        history.last_skips[0].at_ms = NOW - HOUR;
        let off = Policy {
            already_skipped_window: Duration::ZERO,
            ..policy(Multiple::Next)
        };
        let steps = plan_change(
            &intent(Action::Skip, None),
            &off,
            NOW,
            &shopper(),
            vec![s],
            &history,
        );
        assert_eq!(writes(&steps).len(), 1);
    }

    #[test]
    fn a_double_text_does_not_skip_the_other_subscription() {
        // Two subscriptions; the first SKIP moved "a" past "b". A second SKIP must not skip "b".
        let a = sub(PlatformKind::Skio, "a", date(2027, 1, 3));
        let b = sub(PlatformKind::Skio, "b", date(2026, 12, 10));
        let history = History {
            changes: vec![change(
                "im_1",
                Action::Skip,
                &a,
                date(2026, 12, 4),
                date(2027, 1, 3),
                2,
            )],
            ..History::default()
        };
        let steps = plan_change(
            &intent(Action::Skip, None),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![a.clone(), b.clone()],
            &history,
        );
        let f = failure(&steps);
        assert_eq!(f.reason, FailureReason::AlreadySkipped);
        assert_eq!(f.subscription_id.as_deref(), Some("b"));

        // A DELAY after the skip is not a double text.
        let steps = plan_change(
            &intent(Action::Delay, Some(7)),
            &policy(Multiple::Next),
            NOW,
            &shopper(),
            vec![a, b],
            &history,
        );
        assert_eq!(writes(&steps), [("b", Some(date(2026, 12, 17)))]);
    }

    #[test]
    fn undo_reverses_the_latest_change_within_its_window_only() {
        let s = sub(PlatformKind::Skio, "a", date(2027, 1, 3));
        let mut history = History {
            changes: vec![
                change(
                    "im_2",
                    Action::Skip,
                    &s,
                    date(2026, 12, 4),
                    date(2027, 1, 3),
                    1,
                ),
                change(
                    "im_1",
                    Action::Delay,
                    &s,
                    date(2026, 11, 20),
                    date(2026, 12, 4),
                    5,
                ),
            ],
            ..History::default()
        };
        let originals = undo_originals(&policy(Multiple::Next), NOW, &history);
        assert_eq!(originals.len(), 1);
        assert_eq!(
            originals[0].outcome.message_id, "im_2",
            "the latest message only"
        );

        history.changes[0].undone = true;
        let originals = undo_originals(&policy(Multiple::Next), NOW, &history);
        assert_eq!(
            originals[0].outcome.message_id, "im_1",
            "an undone change is skipped"
        );

        for c in &mut history.changes {
            c.at_ms = NOW - 73 * HOUR;
        }
        assert!(undo_originals(&policy(Multiple::Next), NOW, &history).is_empty());
        let steps = plan_undo(Vec::new());
        assert_eq!(failure(&steps).reason, FailureReason::NotAllowed);
    }

    #[test]
    fn undo_sets_the_previous_date_only_while_the_date_is_keyroutes() {
        let s = sub(PlatformKind::Skio, "a", date(2027, 1, 3));
        let c = change(
            "im_1",
            Action::Skip,
            &s,
            date(2026, 12, 4),
            date(2027, 1, 3),
            1,
        );
        let steps = plan_undo(vec![UndoCheck {
            change: c.clone(),
            now: Now::Is(s.clone()),
        }]);
        match &steps[0] {
            Step::Write(w) => {
                assert_eq!(w.target_date, Some(date(2026, 12, 4)));
                assert_eq!(
                    w.undoes,
                    Some(OutcomeRef {
                        message_id: "im_1".into(),
                        seq: 0
                    })
                );
            }
            other => panic!("{other:?}"),
        }
        let moved = sub(PlatformKind::Skio, "a", date(2027, 1, 10));
        let steps = plan_undo(vec![
            UndoCheck {
                change: c.clone(),
                now: Now::Is(moved),
            },
            UndoCheck {
                change: c.clone(),
                now: Now::Gone,
            },
            UndoCheck {
                change: c,
                now: Now::Unreachable,
            },
        ]);
        let dates: Vec<_> = steps
            .iter()
            .map(|s| match s {
                Step::Fail(f) => {
                    assert_eq!(f.reason, FailureReason::NotAllowed);
                    assert!(f.undoes.is_some());
                    f.next_date
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            dates,
            [Some(date(2027, 1, 10)), None, Some(date(2027, 1, 3))]
        );
    }

    #[test]
    fn status_answers_per_subscription_of_the_policy() {
        let subs = vec![
            sub(PlatformKind::Skio, "a", date(2026, 12, 9)),
            sub(PlatformKind::Loop, "b", date(2026, 12, 2)),
        ];
        let next = plan_status(&policy(Multiple::Next), subs.clone());
        assert!(
            matches!(&next[..], [Step::Status { subscription }] if subscription.id == "b"),
            "{next:?}"
        );
        assert_eq!(plan_status(&policy(Multiple::All), subs).len(), 2);
        let none = plan_status(&policy(Multiple::Next), Vec::new());
        assert_eq!(failure(&none).reason, FailureReason::NoSubscription);
    }

    #[test]
    fn help_names_the_earliest_next_date_when_known() {
        let subs = [
            sub(PlatformKind::Skio, "a", date(2026, 12, 9)),
            sub(PlatformKind::Loop, "b", date(2026, 12, 2)),
        ];
        assert_eq!(
            plan_help(Some(&subs)),
            [Step::Help {
                next_date: Some(date(2026, 12, 2))
            }]
        );
        assert_eq!(plan_help(None), [Step::Help { next_date: None }]);
    }
}
