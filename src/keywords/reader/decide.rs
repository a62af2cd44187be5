//! Across the message: which clause's request wins, and how sure the reading is.

use super::doubt::undecided;
use super::wishes::{asked_again, asked_back, bare_time_request, send_action, unwanted};
use super::*;

/// A request found in a clause.
struct Found {
    action: Action,
    clause: usize,
    seg: usize,
    sure: bool,
    strength: Strength,
    /// Yields to another action said beside it: a weak skip or undo, or a "don't send".
    gives_way: bool,
    /// Read from a whole clause's frame ("this one we don't need"), not from a cue word.
    framed: bool,
}

impl Found {
    /// A question asked outright (HELP, STATUS, a how-to): sure, and strong.
    fn asked(action: Action, clause: usize, seg: usize) -> Found {
        Found {
            action,
            clause,
            seg,
            sure: true,
            strength: Strength::Strong,
            gives_way: false,
            framed: false,
        }
    }
}

/// A clause that only says no: "no", "no thanks", "nope", "actually no", "wait no".
fn refusal(words: &[&str], c: &Clause) -> bool {
    c.segs.iter().any(|s| is(s, Role::Neg))
        && c.segs.iter().all(|s| {
            is(s, Role::Neg)
                || soft(s)
                || matches!(words[s.word], "wait" | "forget" | "it" | "way" | "that")
                || matches!(
                    words[s.word..s.word + s.len],
                    ["never", "mind"] | ["nvm"] | ["nevermind"]
                )
        })
}

/// An undo phrase that reassures rather than takes back: "I still want it, just later",
/// "skip this one and then back to normal". Beside another change it is no second action.
fn reassures(words: &[&str], c: &Clause, si: usize) -> bool {
    let s = &c.segs[si];
    words[s.word..s.word + s.len]
        .iter()
        .any(|w| matches!(*w, "want" | "need" | "quiero" | "veux"))
        || si > 0 && matches!(words[c.segs[si - 1].word], "then" | "after" | "afterwards")
        || si == 0 && s.word > 0 && matches!(words[s.word - 1], "then" | "afterwards")
}

pub(super) fn decide(rules: &RuleSet, words: &[&str], clauses: &[Clause], today: Date) -> Reading {
    // A message of only "?" asks for help when a help rule lists "?".
    if clauses.iter().all(|c| c.segs.is_empty()) {
        return match rules.lex.question {
            Some(info) if info.is_keyword() => {
                let (rule, keyword) = rules.report(Action::Help, Some(info.rule), Some(info.kw));
                Reading::Act {
                    action: Action::Help,
                    rule,
                    keyword,
                    when: None,
                    bare: None,
                    sure: true,
                    firm: true,
                }
            }
            _ => Reading::Nothing(crate::keywords::REASON_EMPTY),
        };
    }
    let asking = clauses.iter().any(|c| c.question);
    // Every change action named, whatever became of it.
    let mut seen: Vec<Action> = Vec::new();
    // "delay 0 days", "delay 99999999999 weeks": no delay anyone can mean.
    let zero = words.windows(2).any(|p| {
        let absurd = p[0].len() > 4 && p[0].bytes().all(|b| b.is_ascii_digit());
        (matches!(p[0], "0" | "zero" | "cero") || absurd)
            && crate::keywords::time::is_time_word(p[1])
    });
    let mut found: Vec<Found> = Vec::new();
    let mut mentioned: Vec<Action> = Vec::new();
    let mut named: Vec<Action> = Vec::new();
    let mut negated: Vec<Action> = Vec::new();
    let mut fresh_no = false;
    let mut hedged: Vec<Action> = Vec::new();
    let mut corrected: Vec<Action> = Vec::new();
    let mut killed: Option<&'static str> = None;
    // A negated skip read as an undo ("don't skip it after all"): the "after all" beside it
    // is that undo, not a second one negated.
    let mut taken_back = false;
    for (ci, c) in clauses.iter().enumerate() {
        // A question about what to reply, whether a change took, or an order asked back
        // in the shopper's own words: the cue words in the clause are named, not asked for.
        let framed = [
            (Action::Help, judge::reply_question(words, c)),
            (Action::Status, judge::change_status(words, c)),
            (Action::Undo, asked_back(words, c, today, rules)),
            (Action::Skip, unwanted(words, c, today)),
        ]
        .into_iter()
        .find_map(|(a, si)| si.filter(|_| rules.enabled(a)).map(|si| (a, si)));
        if let Some((action, si)) = framed {
            found.push(Found {
                sure: !matches!(action, Action::Undo | Action::Skip),
                framed: true,
                ..Found::asked(action, ci, si)
            });
            continue;
        }
        for (si, seg) in c.segs.iter().enumerate() {
            // "send it in April", "don't send it yet": the verb of sending is the cue.
            let mut seg = *seg;
            // A "don't send" yields to a delay said beside it ("no lo mandes el 13, mándalo
            // el 20").
            let mut gives_way = false;
            // "the new fridge doesn't arrive until the 18th": a fact told, not a "don't send".
            if is(&seg, Role::Send)
                && si > 0
                && matches!(
                    words[c.segs[si - 1].word],
                    "doesnt" | "didnt" | "isnt" | "hasnt" | "wasnt" | "wont" | "wouldnt"
                )
            {
                continue;
            }
            if matches!(seg.role, Some(Role::Send) | Some(Role::NoSend)) {
                // A "don't send" skip yields to a delay said beside it ("don't deliver, push
                // it a week").
                match send_action(words, c, si, today, rules) {
                    // Weak, so it needs an argument, unless it names its order by date ("the
                    // one due Saturday"): then the date is no argument against it.
                    Some((Action::Skip, dated)) => {
                        let strength = if dated {
                            Strength::Strong
                        } else {
                            Strength::Weak
                        };
                        seg.role = Some(Role::Cue(Action::Skip, strength, Form::Base));
                        gives_way = true;
                    }
                    Some((a, _)) => seg.role = Some(Role::Cue(a, Strength::Strong, Form::Base)),
                    None => continue,
                }
            }
            // "put back like before", "set it back how it was": an undo said with "back".
            if matches!(seg.role, Some(Role::Cue(Action::Delay, ..)))
                && matches!(words[seg.word], "put" | "set")
                && words[seg.word + seg.len - 1] == "back"
                && c.segs[si + 1..]
                    .iter()
                    .take(2)
                    .any(|n| matches!(n.role, Some(Role::Cue(Action::Undo, ..))))
            {
                continue;
            }
            // "put it back to the 30th", "set it back 12 days": a delay, not an undo.
            if matches!(seg.role, Some(Role::Cue(Action::Undo, ..)))
                && seg.len == 3
                && matches!(words[seg.word], "put" | "set" | "push" | "move")
                && words[seg.word + 2] == "back"
                && c.segs
                    .get(si + 1)
                    .is_some_and(|n| !matches!(words[n.word], "on" | "in"))
                && judge::has_time_after(words, c, si, today, rules)
                // "put it back to the 13th like it was": the date it had.
                && !c.segs[si + 1..]
                    .iter()
                    .any(|n| matches!(n.role, Some(Role::Cue(Action::Undo, ..))))
            {
                seg.role = Some(Role::Cue(Action::Delay, Strength::Strong, Form::Base));
            }
            let Some(Role::Cue(action, strength, _)) = seg.role else {
                if is(&seg, Role::HowTo) && judge::asks_how(words, c, si) {
                    found.push(Found::asked(Action::Help, ci, si));
                }
                continue;
            };
            if !rules.enabled(action) {
                continue;
            }
            // "I postponed the February one, not this one": a contrast with a report.
            if action == Action::Skip
                && strength == Strength::Weak
                && matches!(words[seg.word], "not" | "pas" | "no")
                && ci > 0
                && clauses[ci - 1]
                    .segs
                    .iter()
                    .any(|p| matches!(p.role, Some(Role::Cue(_, _, Form::Past))))
            {
                killed.get_or_insert(crate::keywords::REASON_PAST);
                continue;
            }
            if action == Action::Delay && zero {
                killed.get_or_insert(crate::keywords::REASON_NO_MATCH);
                continue;
            }
            // A send verb read as a cue is judged as that cue.
            let view;
            let judged = if seg.role == c.segs[si].role {
                c
            } else {
                let mut v = Clause {
                    segs: c.segs.clone(),
                    question: c.question,
                };
                v.segs[si] = seg;
                view = v;
                &view
            };
            if matches!(action, Action::Skip | Action::Delay | Action::Undo) {
                seen.push(action);
            }
            match judge(words, judged, si, today, rules) {
                Verdict::Request { sure } => found.push(Found {
                    action,
                    clause: ci,
                    seg: si,
                    sure: sure && seg.typo < 2,
                    strength,
                    gives_way: gives_way
                        || strength == Strength::Weak
                            && matches!(action, Action::Skip | Action::Undo)
                        || action == Action::Undo && reassures(words, c, si),
                    framed: false,
                }),
                Verdict::HowTo => found.push(Found::asked(Action::Help, ci, si)),
                // "nvm skip it after all": a weak undo beside a request is no second action.
                Verdict::Mention
                    if action == Action::Undo
                        && (strength == Strength::Weak || reassures(words, c, si)) => {}
                // "The delay I asked before, please remove it, send as planned": a change
                // named as a thing is what an undo beside it is about.
                Verdict::Mention
                    if si > 0
                        && matches!(words[c.segs[si - 1].word], "the" | "that" | "my")
                        && matches!(action, Action::Skip | Action::Delay) =>
                {
                    named.push(action)
                }
                Verdict::Mention => mentioned.push(action),
                // "don't skip it after all", "finalement ne la sautez pas", "changed my
                // mind, don't delay it": a change taken back is an undo, only probable (it
                // may be a change never asked for).
                Verdict::Not(crate::keywords::REASON_NEGATED)
                    if rules.enabled(Action::Undo)
                        && matches!(action, Action::Skip | Action::Delay)
                        // In the change's own clause: not "no need to delay, we're home
                        // after all".
                        && after_all(c.span(words)) =>
                {
                    taken_back = true;
                    found.push(Found {
                        action: Action::Undo,
                        clause: ci,
                        seg: si,
                        sure: false,
                        strength: Strength::Strong,
                        gives_way: false,
                        framed: false,
                    });
                }
                Verdict::Not(reason) => {
                    if reason == crate::keywords::REASON_HEDGED {
                        hedged.push(action);
                    }
                    if reason == crate::keywords::REASON_NEGATED {
                        negated.push(action);
                        // "skip it, no push it": a bare "no" opening a later clause corrects
                        // the earlier request to another action.
                        if ci > 0
                            && si == 1
                            && matches!(words[c.segs[0].word], "no" | "nah" | "nope")
                            && c.segs[0].len == 1
                            // "no push it", not "no retrases" (a negative imperative).
                            && c.segs.get(2).is_some_and(|o| {
                                matches!(words[o.word], "it" | "that" | "this" | "the" | "my")
                            })
                        {
                            corrected.push(action);
                        }
                        // "no delay needed", not "no need for the delay" (one made).
                        fresh_no |= !(si > 0
                            && matches!(words[c.segs[si - 1].word], "the" | "my" | "that"));
                    }
                    killed.get_or_insert(reason);
                }
            }
        }
        if let Some(si) = judge::service_question(words, c)
            && rules.enabled(Action::Help)
        {
            found.push(Found::asked(Action::Help, ci, si));
        }
        if let Some(si) = judge::status_question(words, c, asking)
            && rules.enabled(Action::Status)
        {
            found.push(Found::asked(Action::Status, ci, si));
        }
    }
    // "no need this month, skip": the frame only repeats the cue said beside it.
    let cued: Vec<Action> = found
        .iter()
        .filter(|f| !f.framed)
        .map(|f| f.action)
        .collect();
    found.retain(|f| !(f.framed && cued.contains(&f.action)));
    // "if the weather's bad, hold it": a condition said in a clause of its own before the
    // request leaves it only probable (in the same clause, the judge reads it as a hedge).
    // Not a condition on whether it can still be done: "if it's not shipped yet, skip it".
    for f in &mut found {
        let conditional = f.clause > 0 && {
            let c = &clauses[f.clause - 1];
            c.segs.first().is_some_and(|s| is(s, Role::If))
                && !c.segs.iter().any(|s| {
                    matches!(
                        words[s.word],
                        "shipped" | "sent" | "gone" | "late" | "possible" | "can" | "ok" | "okay"
                    )
                })
        };
        if conditional {
            f.sure = false;
        }
    }
    // "Reply SKIP to skip", "to skip reply skip": the shop's instructions quoted back.
    let quoted = words
        .iter()
        .any(|w| matches!(*w, "reply" | "text" | "responde" | "repondez"))
        && clauses
            .iter()
            .flat_map(|c| &c.segs)
            .enumerate()
            .any(|(i, a)| {
                matches!(a.role, Some(Role::Cue(..)))
                    && clauses
                        .iter()
                        .flat_map(|c| &c.segs)
                        .skip(i + 1)
                        .any(|b| b.role == a.role && words[b.word] == words[a.word])
            });
    if quoted {
        return Reading::Nothing(crate::keywords::REASON_NO_MATCH);
    }
    // "wrong number", "it was meant for my sister": not meant for this shop, unless it
    // asks to put back what that text did.
    if clauses
        .iter()
        .any(|c| c.segs.iter().any(|s| is(s, Role::Stray)))
        && !found.iter().any(|f| f.action == Action::Undo)
    {
        return Reading::Nothing(crate::keywords::REASON_NO_MATCH);
    }
    if undecided(words, clauses) {
        found.retain(|f| matches!(f.action, Action::Help | Action::Status));
        if found.is_empty() {
            return Reading::Nothing(crate::keywords::REASON_HEDGED);
        }
    }
    // "skip? no thanks", "delay a week... actually no": a refusal after a request takes
    // back every request before it; another action after it is a change of mind, which is
    // two different actions.
    if let Some(last_no) = clauses.iter().rposition(|c| refusal(words, c)) {
        let before: Vec<Action> = found
            .iter()
            .filter(|f| f.clause < last_no)
            .map(|f| f.action)
            .collect();
        found.retain(|f| f.clause > last_no);
        if found.is_empty() {
            return Reading::Nothing(crate::keywords::REASON_NEGATED);
        }
        // "skip? no. delay? yes, 2 weeks": the choice said outright.
        let affirmed = clauses.iter().skip(last_no + 1).any(|c| {
            c.segs.len() == 1
                && matches!(
                    words[c.segs[0].word],
                    "yes" | "yep" | "yeah" | "si" | "oui" | "ouais"
                )
        });
        if !affirmed
            && found
                .iter()
                .any(|f| !before.is_empty() && !before.contains(&f.action))
        {
            return Reading::Nothing(crate::keywords::REASON_CONFLICT);
        }
    }
    let changes = [Action::Skip, Action::Delay, Action::Undo];
    let is_change = |a: &Action| changes.contains(a);
    // Weak skips and undos yield to a stated action: "changed my mind, skip it" is a skip;
    // "not this month, send it in April" and "don't deliver, push it a week" delays.
    let yields = |f: &Found| f.gives_way;
    let others: Vec<Action> = found
        .iter()
        .filter(|f| is_change(&f.action) && !yields(f))
        .map(|f| f.action)
        .collect();
    found.retain(|f| !(yields(f) && others.iter().any(|a| *a != f.action)));
    // "never mind, figured it out", "when does it come... never mind, found it": nothing
    // to put back, nothing left to tell.
    if words
        .iter()
        .any(|w| matches!(*w, "figured" | "found" | "sorted"))
    {
        found.retain(|f| {
            !(f.action == Action::Undo && f.strength == Strength::Weak
                || f.action == Action::Status)
        });
    }
    // "did it ship? nvm just saw the email", "who is this... haha nvm": the question is
    // taken back.
    let retracted = |ci: usize| {
        clauses.iter().skip(ci + 1).any(|c| {
            c.segs.iter().any(|s| {
                matches!(s.role, Some(Role::Cue(Action::Undo, Strength::Weak, _)))
                    && matches!(
                        words[s.word..s.word + s.len],
                        ["nvm"] | ["never", "mind"] | ["nevermind"]
                    )
            })
        })
    };
    found.retain(|f| !(matches!(f.action, Action::Help | Action::Status) && retracted(f.clause)));
    // "No delay needed, the box can come on the 13th as usual": nothing changed, nothing
    // to put back.
    // "I'll probably want to delay it but not yet": the hedge holds for the weak cue too.
    found.retain(|f| {
        !(f.strength == Strength::Weak
            && matches!(f.action, Action::Skip | Action::Delay)
            && !hedged.is_empty())
    });
    if fresh_no {
        found.retain(|f| !(f.action == Action::Undo && f.strength == Strength::Weak));
    }
    if !found.iter().any(|f| f.action == Action::Undo) {
        mentioned.append(&mut named);
    }
    let mut asked: Vec<Action> = found.iter().map(|f| f.action).filter(is_change).collect();
    let mut requested = asked.clone();
    asked.extend(mentioned.iter().copied().filter(is_change));
    asked.sort_by_key(|a| a.as_str());
    asked.dedup();
    if !requested.is_empty() && asked.len() > 1 {
        return Reading::Nothing(crate::keywords::REASON_CONFLICT);
    }
    // "delay or skip idc", "skip... or maybe just delay?", "omitan este o muévanlo": the
    // shopper offers a choice, even when one side of it is hedged or only mentioned.
    let choice = words.iter().any(|w| {
        matches!(
            *w,
            "or" | "o"
                | "ou"
                | "idc"
                | "whatever"
                | "whichever"
                | "cualquiera"
                | "either"
                | "importe"
        )
    });
    // "skip or help?": unsure what to do, the shopper gets the help answer.
    if choice && found.iter().any(|f| f.action == Action::Help) {
        found.retain(|f| f.action == Action::Help);
        requested.clear();
    }
    let mut distinct = requested.clone();
    distinct.dedup();
    if choice && distinct.len() == 1 && seen.iter().any(|a| *a != distinct[0] && *a != Action::Undo)
    {
        return Reading::Nothing(crate::keywords::REASON_CONFLICT);
    }
    if corrected
        .iter()
        .any(|c| requested.iter().any(|r| r != c && is_change(r)))
    {
        return Reading::Nothing(crate::keywords::REASON_CONFLICT);
    }
    if taken_back {
        negated.retain(|a| *a != Action::Undo);
    }
    // "skip it... no, don't skip": the same action taken back elsewhere.
    if requested.iter().any(|a| negated.contains(a)) {
        return Reading::Nothing(crate::keywords::REASON_NEGATED);
    }
    // "help! my blender broke", "Help, the avocado is hard as a rock, how long till it's
    // ripe?", "status: exhausted": an exclamation before a story of the shopper's own.
    found.retain(|f| !exclaimed_story(words, clauses, f));
    // The same change said twice ("no need this month, skip"): the surer saying counts.
    let chosen = found
        .iter()
        .find(|f| is_change(&f.action) && f.sure)
        .or_else(|| found.iter().find(|f| is_change(&f.action)))
        .or_else(|| found.iter().find(|f| f.action == Action::Status))
        .or_else(|| found.iter().find(|f| f.action == Action::Help));
    let Some(f) = chosen else {
        // A weak cue without its argument leaves a wish standing: "the 2nd of april works
        // better, can you move it".
        if killed.is_none_or(|r| r == crate::keywords::REASON_NO_MATCH)
            && let Some(r) = bare_time_request(rules, words, clauses, today)
        {
            return r;
        }
        if killed.is_none_or(|r| r == crate::keywords::REASON_PAST)
            && let Some(r) = asked_again(rules, words, clauses, today)
        {
            return r;
        }
        return match killed {
            Some(reason) => Reading::Nothing(reason),
            None => Reading::Unplaced,
        };
    };
    let seg = clauses[f.clause].segs[f.seg];
    // The segment's own rule and keyword, when it is a cue of the action read.
    let own = matches!(seg.role, Some(Role::Cue(a, ..)) if a == f.action);
    let (rule, mut keyword) = if own {
        rules.report(f.action, seg.rule, seg.kw)
    } else {
        rules.report(f.action, None, None)
    };
    // A built-in word or phrase is reported as the shopper wrote it (normalised, typos
    // corrected): "never mind", "opciones", "posponganlo".
    if own && seg.kw.is_none() {
        keyword = words[seg.word..seg.word + seg.len].join(" ");
    }
    let (when, bare) = if f.action == Action::Delay {
        let others: Vec<(usize, usize)> = found
            .iter()
            .filter(|g| g.action == Action::Delay && (g.clause, g.seg) != (f.clause, f.seg))
            .map(|g| (g.clause, g.seg))
            .collect();
        amount::amount_of_sayings(
            words,
            clauses,
            (f.clause, f.seg),
            &others,
            today,
            &Rules(rules),
        )
    } else {
        (None, None)
    };
    // "when does it ship? and can I skip it", "help, and skip please": two things asked;
    // the change is only probable.
    let also_asked = is_change(&f.action)
        && found
            .iter()
            .any(|g| matches!(g.action, Action::Help | Action::Status));
    // "I'd love to skip but my kids would riot": a wish, then the reason it won't be.
    let wish_but = clauses.get(f.clause + 1).is_some_and(|n| {
        n.segs
            .first()
            .is_some_and(|s| s.word > 0 && words[s.word - 1] == "but")
            && !n.segs.iter().any(|s| matches!(s.role, Some(Role::Cue(..))))
    }) && clauses[f.clause].segs.iter().any(|s| {
        is(s, Role::Request)
            && words[s.word..s.word + s.len]
                .iter()
                .any(|w| matches!(*w, "love" | "like" | "want" | "wanted"))
    });
    // "Delay it a week please. Actually ... maybe skip it altogether?": another change
    // weighed beside it; the shopper is torn, so the shop asks.
    let torn = is_change(&f.action) && hedged.iter().any(|h| is_change(h) && *h != f.action);
    let sure = !also_asked
        && !wish_but
        && !torn
        && found
            .iter()
            .filter(|g| g.action == f.action)
            .all(|g| g.sure);
    // "don't skip, delay 1 week": a delay keyword and its amount, with nothing else in the
    // clause but courtesy, is a command however the rest of the message reads.
    let amount_after = f.action == Action::Delay
        && clauses[f.clause].segs[f.seg + 1..]
            .iter()
            .any(|s| s.number || words[s.word] == "a" || words[s.word] == "one")
        && matches!(when, Some(super::When::Days(_)));
    let firm = sure
        && amount_after
        && seg.kw.is_some()
        && clauses[f.clause].segs.iter().enumerate().all(|(k, s)| {
            k == f.seg
                || soft(s)
                || s.number
                || judge::is_time_word(words[s.word], rules)
                || matches!(words[s.word], "a" | "one" | "it" | "by" | "for")
        });
    Reading::Act {
        action: f.action,
        rule,
        keyword,
        when,
        bare,
        sure,
        firm,
    }
}

/// "after all", "anymore", "al final", "finalement", "changed my mind": a decision changed back.
fn after_all(words: &[&str]) -> bool {
    words.windows(2).any(|p| {
        matches!(
            p,
            ["after", "all"]
                | ["al", "final"]
                | ["en", "fin"]
                | ["tout", "compte"]
                | ["my", "mind"]
        )
    }) || words
        .iter()
        .any(|w| matches!(*w, "anymore" | "finalement" | "finalmente"))
}

/// A help or status word alone in its clause, followed only by clauses that tell a story: no
/// cue, nothing about the order or the texts, the next one opening on a thing of the
/// shopper's ("my", "the", "el", "la", ...).
fn exclaimed_story(words: &[&str], clauses: &[Clause], f: &Found) -> bool {
    let c = &clauses[f.clause];
    let exclaimed = matches!(f.action, Action::Help | Action::Status)
        && c.segs.len() == 1
        && matches!(words[c.segs[0].word], "help" | "status" | "ayuda" | "aide")
        && !c.question;
    let rest = &clauses[f.clause + 1..];
    if !exclaimed || rest.is_empty() {
        return false;
    }
    let about_us = |n: &Clause| {
        n.segs.iter().any(|s| {
            matches!(s.role, Some(Role::Cue(..)) | Some(Role::HowTo))
                || judge::order_word(words[s.word])
                    && !matches!(
                        words[s.word],
                        "it" | "this" | "that" | "one" | "la" | "le" | "lo"
                    )
                || matches!(
                    words[s.word],
                    "account"
                        | "texts"
                        | "text"
                        | "message"
                        | "messages"
                        | "reply"
                        | "menu"
                        | "options"
                        | "mensajes"
                        | "compte"
                )
        })
    };
    let opens_on_a_thing = rest[0].segs.first().is_some_and(|s| {
        words[c.segs[0].word] == "status"
            || matches!(
                words[s.word],
                "my" | "the" | "el" | "la" | "mi" | "ma" | "mon" | "le" | "mes" | "mis"
            )
    });
    !rest[0].question && opens_on_a_thing && !rest.iter().any(about_us)
}
