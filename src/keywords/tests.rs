//! Behaviour tests for the whole module: shipped rules, matching, rule-file checks,
//! the labelled corpus and property tests.

use super::*;

fn rs() -> &'static RuleSet {
    use std::sync::OnceLock;
    static RS: OnceLock<RuleSet> = OnceLock::new();
    RS.get_or_init(RuleSet::embedded)
}

/// Short form of an interpretation for assertions: "skip", "delay:14", "none:negated".
fn short(text: &str) -> String {
    match rs().interpret_on(text, super::corpus::reference_date()) {
        Interpretation::Matched(i) => match (i.days, i.until) {
            (Some(d), _) => format!("{}:{d}", i.action.as_str()),
            (None, Some(u)) => format!("{}@{u}", i.action.as_str()),
            (None, None) => i.action.as_str().to_owned(),
        },
        Interpretation::Unsure(i) => format!("unsure:{}", i.action.as_str()),
        Interpretation::NoAction { reason } => format!("none:{reason}"),
    }
}

#[test]
fn embedded_rules_load() {
    let rs = RuleSet::embedded();
    assert!(rs.rules.len() >= 4);
    for name in ["skip", "delay", "help", "undo"] {
        assert!(
            rs.rules.iter().any(|r| r.name == name),
            "missing rule {name}"
        );
    }
}

#[test]
fn stage1_basics() {
    let cases = [
        ("Skip", "skip"),
        ("SKIP", "skip"),
        ("Skip!!", "skip"),
        ("skip 🙏", "skip"),
        ("SKIP.", "skip"),
        ("skip please", "skip"),
        ("DELAY", "delay:14"),
        ("delay 2 weeks", "delay:14"),
        ("DELAY 10 days", "delay:10"),
        ("delay 1 month", "delay:30"),
        ("delay 3 wks", "delay:21"),
        ("HELP", "help"),
        ("UNDO", "undo"),
        ("STOP", "none:opt_out"),
        ("skip stop", "none:opt_out"),
        ("please cancel", "none:opt_out"),
        ("END", "none:opt_out"),
        ("quit", "none:opt_out"),
        ("UNSUBSCRIBE", "none:opt_out"),
        ("stopall", "none:opt_out"),
        ("revoke", "none:opt_out"),
        ("opt out", "none:opt_out"),
        ("opt-out", "none:opt_out"),
        ("ALTO", "none:opt_out"),
        ("parar", "none:opt_out"),
        ("", "none:empty"),
        ("🙏", "none:empty"),
        ("hello", "none:no_match"),
    ];
    let mut bad = Vec::new();
    for (text, want) in cases {
        let got = short(text);
        if got != want {
            bad.push(format!("{text:?}: want {want}, got {got}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn json_shape_matches_contract() {
    let j = |t: &str| serde_json::to_string(&rs().interpret(t)).unwrap_or_default();
    assert_eq!(
        j("skip"),
        r#"{"action":"skip","rule":"skip","keyword":"skip"}"#
    );
    assert_eq!(
        j("help"),
        r#"{"action":"help","rule":"help","keyword":"help"}"#
    );
    assert_eq!(
        j("delay"),
        r#"{"action":"delay","days":14,"rule":"delay","keyword":"delay","max_days":90}"#
    );
    // A change beside a help request is only probable: it asks first (the contract's
    // `"action": null, "confirm": "<action>"`).
    assert_eq!(
        j("help, and skip please"),
        r#"{"action":null,"confirm":"skip","rule":"skip","keyword":"skip","reason":"unsure"}"#
    );
    assert_eq!(j("what"), r#"{"action":null,"reason":"no_match"}"#);
    assert_eq!(j("stop"), r#"{"action":null,"reason":"opt_out"}"#);
}

/// The old corpus (`tests/corpus/replies.tsv`, written beside the first matcher, relabelled
/// where its labels recorded the matcher's limits rather than what the shopper meant): a
/// regression floor, not a target, since the rules were written from it.
#[test]
fn old_corpus_floor() {
    let lines = super::corpus::parse(super::corpus::development("old").unwrap_or_default());
    assert!(lines.len() >= 900, "corpus too small: {}", lines.len());
    let r = super::corpus::score(rs(), &lines);
    println!("{}", r.summary("old corpus"));
    let read = super::corpus::Tally::pct(r.all.read_right(), r.all.n);
    assert!(read >= 98.0, "{}\n{:#?}", r.summary("old corpus"), r.misses);
    assert!(r.all.false_actions <= 1, "{:#?}", r.misses);
}

/// The frozen test split of `tests/corpus/v2`: written by authors who never saw the reader,
/// never read to tune it. Only its totals are printed here, never its lines.
#[test]
fn frozen_test_split() {
    use sha2::Digest;
    let text = include_str!("../../tests/corpus/v2/test.tsv");
    let want = include_str!("../../tests/corpus/v2/test.sha256")
        .split_whitespace()
        .next()
        .unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        got, want,
        "tests/corpus/v2/test.tsv changed: the test split is frozen"
    );
    let r = super::corpus::score(rs(), &super::corpus::parse(text));
    println!("{}\n{}", r.table(), r.summary("frozen test"));
    let read = super::corpus::Tally::pct(r.all.read_right(), r.all.n);
    assert!(read >= FROZEN_FLOOR, "{}", r.summary("frozen test"));
    assert!(
        r.all.false_actions <= FROZEN_FALSE_ACTIONS,
        "{}",
        r.summary("frozen test")
    );
}

/// What the frozen split measured when these were set: a ratchet. The accuracy floor is
/// only ever raised. The false actions may go up only in a commit that says so and why
/// (once so far: 27 -> 28, for +0.5% read right on val; then the model's veto took them to
/// 7); they are never searched line by line, since the split is measured, not read.
const FROZEN_FLOOR: f64 = 93.0;
const FROZEN_FALSE_ACTIONS: usize = 4;

/// The development splits, the replies the rules were tuned on and the model trained on:
/// floors on each, so a rule made for one batch does not quietly undo another's. (Their zero
/// false actions are the model remembering them; `tools/train-model held-out` gives the
/// honest figure.)
#[test]
fn dev_split_floor() {
    let floors: [(&str, f64, usize); 9] = [
        ("dev", 97.5, 0),
        ("dev2", 96.7, 0),
        ("dev3", 95.7, 0),
        ("dev4", 95.7, 0),
        ("dev5", 94.9, 1),
        ("dev6", 92.5, 3),
        ("dev7", 94.2, 2),
        ("dev8", 94.7, 2),
        ("dev9", 92.7, 2),
    ];
    // Every development part but the old corpus (which has its own test) has a floor here.
    for (name, _) in super::corpus::DEVELOPMENT
        .iter()
        .filter(|(n, _)| *n != "old")
    {
        assert!(
            floors.iter().any(|(f, _, _)| f == name),
            "development part {name} has no floor"
        );
    }
    for (name, floor, false_actions) in floors {
        let text = super::corpus::development(name).unwrap_or_default();
        assert!(!text.is_empty(), "no development part {name}");
        let r = super::corpus::score(rs(), &super::corpus::parse(text));
        println!("{}", r.summary(name));
        let read = super::corpus::Tally::pct(r.all.read_right(), r.all.n);
        assert!(read >= floor, "{}", r.summary(name));
        assert!(r.all.false_actions <= false_actions, "{}", r.summary(name));
    }
}

#[test]
fn stage2_behaviour() {
    let cases = [
        // folding, elongation, typos
        ("Sáltar", "skip"),
        ("skiiiiiip", "skip"),
        ("sikp", "skip"),
        ("dealy", "delay:14"),
        ("ship", "none:no_match"),
        ("stip", "none:no_match"), // one edit from STOP as well: never corrected
        ("sjip", "skip"),          // alone: the cue, not "ship"
        ("please sjip it friday", "none:no_match"),
        ("skips", "skip"),
        // quoted text is not asked for; a quoted keyword is the shopper's own word
        (
            "lol \"DELAY 2 weeks to push it back\" is my whole approach to laundry",
            "none:no_match",
        ),
        ("\"SKIP\"", "skip"),
        (
            "it says “reply STOP to end” but please skip",
            "none:opt_out",
        ),
        // an ordinal suffix is not a typo of "the"
        ("delay to the 26th", "delay@2027-03-26"),
        // polite / in-sentence
        ("yes skip", "skip"),
        ("ok skip this one thanks", "skip"),
        (
            "hey I'm away next week so please skip this delivery",
            "skip",
        ),
        ("can I skip the line", "none:other_sense"),
        // negation and conflict
        ("don't skip", "none:negated"),
        ("do not delay", "none:negated"),
        ("no skip", "none:negated"),
        ("I don't want to skip", "none:negated"),
        ("no quiero saltar", "none:negated"),
        ("ne pas sauter", "none:negated"),
        ("skip or delay?", "none:conflict"),
        // durations
        ("delay two weeks", "delay:14"),
        ("delay a week", "delay:7"),
        ("delay a couple of weeks", "delay:14"),
        ("delay next month", "delay@2027-04-01"),
        ("retrasar dos semanas", "delay:14"),
        ("reporter de deux semaines", "delay:14"),
        ("reporter d'un mois", "delay:30"),
        ("delay 3 mo", "delay:90"),
        ("delay 2 w", "delay:14"),
        ("aplazar 10 días", "delay:10"),
        ("delay 99999999999 weeks", "none:no_match"),
        // help / undo
        ("options", "help"),
        ("?", "help"),
        ("ayuda", "help"),
        ("aide", "help"),
        ("unskip", "undo"),
        ("never mind", "undo"),
        ("deshacer", "undo"),
        ("annuler", "none:opt_out"),
        // what is sent is a paper, not the order; the shopper's own "later"
        ("pls send me the invoice for february", "none:no_match"),
        ("send my box in april", "delay@2027-04-01"),
        // (the rules place nothing; the model's guess, if any, only asks first)
        ("hold on I am driving, reply later", "unsure:delay"),
        ("didn't mean to be rude earlier lol", "unsure:undo"),
        ("didn't mean to, put it back", "undo"),
        // amounts around the phrase and the elision
        ("put it back a week", "delay:7"),
        ("Jusqu'au 25 svp", "delay@2027-03-25"),
        ("reportez jusqu'au 25 svp", "delay@2027-03-25"),
        // a "don't send" that names its order by date skips it; another month moves it
        ("please don't send the one on the 13th", "skip"),
        ("just don't send the one due Saturday", "skip"),
        ("Envoyez-moi rien en mars svp", "skip"),
        ("don't send it in april", "delay@2027-04-01"),
        ("maybe don't send the one on the 13th", "none:hedged"),
        // someone else's party; a condition in a clause of its own; nothing decided
        (
            "postpone the party to the 20th, Jen can't make it",
            "none:other_sense",
        ),
        ("postpone my order to the 20th", "delay@2027-03-20"),
        ("if the weather's bad, hold it", "unsure:delay"),
        ("if it's not shipped yet, skip it", "skip"),
        ("depends on my shifts, I could delay", "none:hedged"),
        (
            "Sorry, skip this text, it was meant for my sister",
            "none:no_match",
        ),
        ("sorry that was meant for my sister, undo", "undo"),
        // the shopper's own return to normal is no undo
        (
            "Delay the box 3 weeks pls and we'll go back to normal after",
            "delay:21",
        ),
        ("back to normal please", "undo"),
        // a delay keyword and its amount alone in a clause: the model does not doubt it
        ("don't skip, delay 1 week", "delay:7"),
        // a skip taken back is an undo, asked first
        ("don't skip it after all, we'll be home", "unsure:undo"),
        ("finalement ne la sautez pas", "unsure:undo"),
        ("don't skip", "none:negated"),
        // asked in own words: what to reply, whether a change took, an order asked back
        ("what was the word to pause again", "unsure:help"),
        ("sorry what do I reply if I want to push it", "help"),
        ("whats the keyword to push it back 2 wks", "help"),
        ("honey what's the code for the garage", "none:no_match"),
        ("did my change go through?", "status"),
        ("is it still skipped?", "status"),
        ("I skipped it last time and it still came", "none:past"),
        ("put my box back on please", "unsure:undo"),
        ("can I get my skipped box back?", "unsure:undo"),
        ("put it back in the fridge", "none:other_sense"),
        ("put my order back a week", "delay:7"),
        ("any chance you'll bring that one back?", "unsure:status"),
        // false actions of the seventh batch
        ("Can you put it back to the 13th like it was", "undo"),
        ("I'll totally skip it, said no one ever", "none:hedged"),
        (
            "holding off on judgement until I try the new spinach",
            "none:other_sense",
        ),
        (
            "Just drop this one and send the April one as normal",
            "skip",
        ),
        ("I postponed the February one, not this one", "none:past"),
        ("what's on the menu for march", "none:other_sense"),
        ("Show me the menu", "help"),
        // more time, sitting on it, waiting on sending; later for something else
        (
            "a bit longer please, still got half a box in the fridge",
            "delay:14",
        ),
        ("give me some more time before the next one pls", "delay:14"),
        ("I don't need any more time", "none:negated"),
        ("Going to try yours one more time", "none:no_match"),
        ("Sit on it for a month, thx", "delay:30"),
        ("wait on sending it", "delay:14"),
        (
            "Could you move it to the last day of the month?",
            "delay@2027-03-31",
        ),
        (
            "could you skip the march box? the address change I'll do later",
            "skip",
        ),
        // help, status and undo in own words, second round
        (
            "is there a human on this line or is it all automated",
            "help",
        ),
        ("how does the delay thing work", "help"),
        ("is there a list of commands somewhere", "help"),
        ("is it still skipped or not", "unsure:status"),
        ("did my undo work or is it still skipped", "unsure:status"),
        ("I want it on the first date, not the new one", "undo"),
        ("ya no lo quiero saltar", "unsure:undo"),
        // this order not wanted: a skip, asked first; a cue beside it is judged as itself
        (
            "the one after this is fine but this one we really don't need",
            "unsure:skip",
        ),
        ("No quiero la caja de marzo", "unsure:skip"),
        ("I don't want the april one", "none:no_match"),
        ("I do not want to skip this month", "none:negated"),
        ("I don't need it anymore", "none:no_match"),
        ("no need this month, skip", "skip"),
        ("Not so soon please", "delay:14"),
        ("sometime later would suit us better", "delay:14"),
        // an earlier request recounted; a new subject starts a clause
        (
            "I told you to push it a month but plans changed, can you undo that",
            "undo",
        ),
        ("She said to skip the next box", "unsure:skip"),
        ("please skip this one and I'll be good for the next", "skip"),
        // a negated opt-out word beside a change keeps the shopper on; alone, or not
        // negated, it still opts out
        ("I don't want to cancel, just skip this one", "unsure:skip"),
        ("skip it, don't cancel me though", "unsure:skip"),
        ("don't cancel my order", "none:opt_out"),
        ("I'd rather cancel than skip", "none:opt_out"),
        ("don't want it stop", "none:opt_out"),
        ("skip it and cancel", "none:opt_out"),
        (
            "I quit sugar and this one's basically all fruit, so skip it",
            "skip",
        ),
        ("quit skip", "none:opt_out"),
        ("n'annulez pas, sautez-la", "unsure:skip"),
        ("au lieu d'annuler, sautez la prochaine", "unsure:skip"),
        ("in the end, skip it", "unsure:skip"),
        ("skip it, end", "none:opt_out"),
        ("Is the delay showing on your end?", "unsure:status"),
        ("do I have a box coming this week?", "status"),
        ("do you have oat milk?", "none:no_match"),
        // the courteous English of a request
        (
            "Good evening, might you hold my order one extra week? Thank you",
            "unsure:delay",
        ),
        (
            "I'd be grateful if you'd push it to the 24th",
            "delay@2027-03-24",
        ),
        ("sorry for the delay in replying, skip it", "unsure:skip"),
        ("one week later would work better for us", "delay:7"),
        // a product, then when: the order; a product alone: its contents
        ("please skip my greens for March", "skip"),
        (
            "is there any way to skip the beets in this shipment",
            "none:other_sense",
        ),
        // moved to a date, not to a town
        ("plz move to the 21st", "delay@2027-03-21"),
        ("we're moving to Laval on the 15th", "none:no_match"),
        ("March 13 is bad, March 16 works", "delay@2027-03-16"),
        ("the 13th is bad, the 16th works", "delay@2027-03-16"),
        ("the 22nd would be perfect", "delay@2027-03-22"),
        (
            "instead of skipping can you push it by two weeks",
            "delay:14",
        ),
        ("instead of skipping", "none:negated"),
        ("skip? no. delay? yes, 2 weeks", "unsure:delay"),
        ("delay? no. skip? yes", "unsure:skip"),
        ("delay a week... actually no, skip it", "none:conflict"),
        // put back on the schedule, not on the shelf; an undo with the change it takes back
        ("put it back on for saturday please", "undo"),
        ("put it back on the shelf", "none:other_sense"),
        ("Undoe the last change pls", "undo"),
        // a correction keeps the unit or the month of what it corrects
        ("delay two weeks, sorry I meant three", "delay:21"),
        ("delay it a week, no make that two", "delay:14"),
        (
            "push it to the 20th, sorry I mean the 22nd",
            "delay@2027-03-22",
        ),
        ("delay 2 weeks. sorry, I have 3 kids", "delay:14"),
        // voice-to-text homophones before a unit; an article is no amount
        ("push it back won week", "delay:7"),
        ("push it back fore days", "delay:4"),
        ("I won 2 weeks ago, skip it", "skip"),
        ("Posponelo un toque", "delay:14"),
        ("atrásalo un mesecito porfa", "delay:30"),
        // "pas de colis" asks for none; one not received is a complaint
        ("Pas de colis en mars pour moi svp", "skip"),
        ("pas de commande reçue cette semaine", "none:no_match"),
        ("Could we possibly not get one this month?", "skip"),
        // the amount said in the clause before the verb; "or so" is vague
        ("D'une semaine, vous pourriez repousser ?", "delay:7"),
        ("Jusqu'à lundi, retardez-la svp", "delay@2027-03-15"),
        (
            "Début avril plutôt, vous pouvez décaler ?",
            "delay@2027-04-01",
        ),
        ("just a day or so later", "delay:14"),
        ("we're away three weeks, can you push it", "delay:14"),
        // a wait on the clock is not a new date; a change reported done; a change taken back
        (
            "can the driver wait 5 min if I'm not home",
            "none:other_sense",
        ),
        ("we put it back to the normal date already", "none:past"),
        ("would you mind reversing that delay?", "undo"),
        ("changed my mind, don't delay it after all", "unsure:undo"),
        ("no need to delay, we're home after all", "none:negated"),
        // "next" with something else after it is not the order
        ("when is my next dentist appointment", "none:no_match"),
        ("when is the next coffee due?", "status"),
        // "support" asks for a person, as "agent" does; thanks for it asks for nothing
        ("support", "help"),
        ("thanks for the support", "none:no_match"),
        // how it works for one of the changes is help; for something else it is not
        ("Comment ça marche pour décaler ?", "help"),
        ("aidez-moi à choisir une recette", "none:other_sense"),
        // advice that asks; a doubt about the amount only
        (
            "honestly I think it's best if you skip the next one",
            "skip",
        ),
        ("if it rains all week I'll skip it", "none:hedged"),
        ("push it back please, not sure how long yet", "delay:14"),
        ("not sure yet, maybe push it back", "none:hedged"),
        ("atrásenlo, no sé, unas semanas", "delay:14"),
        // grabbed, not held; the money, not the order; life back to normal later
        (
            "my toddler got hold of my phone, undo whatever he sent",
            "undo",
        ),
        ("could I delay my payment till friday?", "none:other_sense"),
        ("pass on this one please, back to normal after", "skip"),
        (
            "the move has been put off until may, send it as usual",
            "unsure:undo",
        ),
        // asks what is possible later; a product name before the order
        ("can I undo a skip later if I need to?", "help"),
        ("please skip my Green Smoothie box this month", "skip"),
        ("skip the kale in the box", "none:other_sense"),
        // "don't send" with the order named or a request frame before it
        ("esta no me la manden", "unsure:skip"),
        ("could you not send it this time?", "skip"),
        ("preferiría que no me mandaran nada este mes", "unsure:skip"),
        // durations run together
        ("delay 1wk 2days", "delay:9"),
        ("delay a month n half", "delay:45"),
        // hours that make whole days; "mois" without its s after "d'un"
        ("décale de 48h stp", "delay:2"),
        ("can the driver wait 5 hours", "none:other_sense"),
        ("repoussez d'un moi svp", "delay:30"),
        // a day said in words; a date begun by the cue's last word
        ("reportez au vingt-deux mars", "delay@2027-03-22"),
        ("décaler au trente et un mars", "delay@2027-03-31"),
        (
            "¿lo pueden dejar para después del 4 de abril?",
            "delay@2027-04-05",
        ),
        // of several sayings of the delay, the one with its amount; a day alone corrects
        (
            "I need a bit more time. push it back a month please",
            "delay:30",
        ),
        (
            "push it to the 20th... actually the 27th is better",
            "delay@2027-03-27",
        ),
        // the shopper's own habit, someone else's news; opt-outs stay
        (
            "I promise I'll stop over-ordering, push it back a week please",
            "delay:7",
        ),
        ("stop texting me and skip it", "none:opt_out"),
        ("our nanny quit so skip this one please", "skip"),
        // a fact told with a negated send is no "don't send"
        (
            "the new fridge doesn't arrive until the 18th, could you hold the box till the 22nd",
            "delay@2027-03-22",
        ),
        ("don't send it until the 22nd", "delay@2027-03-22"),
        (
            "on a plus de place faque repoussez-la d'une semaine stp",
            "delay:7",
        ),
        // a date turned down, then another; a change told, then asked again
        (
            "hi, the 13th isn't great, can you do the 17th",
            "unsure:delay",
        ),
        ("the 13th isn't great", "none:no_match"),
        (
            "Last time I pushed it 2 weeks. Same again please",
            "unsure:delay",
        ),
        (
            "I skipped it last time and the same thing happened",
            "none:past",
        ),
        // left for a day, sent after a day, moved to a month, arriving on a day
        ("déjalo para el martes", "delay@2027-03-16"),
        ("déjalo así", "none:no_match"),
        ("pásalo a febrero", "unsure:delay"),
        ("can it come the 19th instead", "delay@2027-03-19"),
        ("pouvez-vous la reculer de deux semaines ?", "delay:14"),
        // words run together; real words and verbs with endings are not split
        ("skipthenextone", "unsure:skip"),
        ("pushitbackaweek", "delay:7"),
        ("skipper", "none:no_match"),
        ("retrasaron mi cita al jueves", "none:no_match"),
        ("I skiped it last month", "none:past"),
        // the English verb conjugated; "pas ce mois" after a skip; spoken "full stop"
        ("skippez la boîte de mars", "skip"),
        ("me lo pueden skipear?", "skip"),
        ("⏭️ pas ce mois merci", "skip"),
        ("je la veux pas ce mois-ci", "none:negated"),
        ("please skip this one full stop", "skip"),
        ("merci de ne pas expédier la commande du 13", "unsure:skip"),
        // a no that opens the message takes back the change; "no quiero" negates
        ("non finalement envoyez-la comme prévu", "unsure:undo"),
        ("no quiero undo", "none:negated"),
        // asking how and what a word means; a person on the line; "is there" a human
        ("How does one delay an order by text?", "help"),
        ("does DELAY 2 mean 2 weeks or 2 days??", "unsure:help"),
        ("hello is there a real person on this line", "help"),
        ("is there a human I can talk to", "help"),
        // status asked in other words
        ("are you still sending the 13th?", "status"),
        ("why are you still sending these", "none:no_match"),
        ("what have I got scheduled", "status"),
        ("so what's happening with my order now", "status"),
        // the money asked about; another change weighed beside a request; a possibility
        (
            "charged me $12 for shipping?? it said free shipping",
            "none:no_match",
        ),
        (
            "Delay it a week please. Actually maybe skip it altogether?",
            "unsure:delay",
        ),
        (
            "Es posible que la semana que viene te pida retrasarlo",
            "none:hedged",
        ),
        ("¿Es posible retrasarlo una semana?", "delay:7"),
        // "need" asks; "don't need" does not
        ("need more time before the next one", "delay:14"),
        ("we don't need more time, thanks", "none:negated"),
        ("not quite yet 🙏", "unsure:delay"),
        // the change an undo is about; "put back" with "like before" is the undo
        (
            "The delay I asked before, please remove it, send as planned",
            "undo",
        ),
        ("skip it or the delay, whichever", "none:conflict"),
        ("oh no wrong, put back like before", "unsure:undo"),
        // an amount in the next clause with its approval, or with the one it is not
        ("delay, but 1 week not 2", "delay:7"),
        (
            "I'd like to delay the next one. A week should do it",
            "delay:7",
        ),
        ("delay it. 3 weeks is too long though", "delay:14"),
        // idioms of not this time
        ("nothing this month, we'll pick back up in april", "skip"),
        ("let's not do this one", "skip"),
        ("hard pass on this one lol", "skip"),
        // a day asked alone is asked first; a question about the date is not a wish
        ("the 24th?", "unsure:delay"),
        ("is it the 13th?", "none:no_match"),
        // a month alone with approval is asked first; "may" is a verb
        ("june please", "unsure:delay"),
        ("may please", "none:no_match"),
        ("can I skip the line", "none:other_sense"),
        (
            "je vous serais reconnaissant de bien vouloir décaler ma commande d'une semaine",
            "delay:7",
        ),
    ];
    let mut bad = Vec::new();
    for (text, want) in cases {
        let got = short(text);
        if got != want {
            bad.push(format!("{text:?}: want {want}, got {got}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn delay_reports_max_days() {
    let i = rs().interpret("delay 6 months");
    let intent = i
        .intent()
        .cloned()
        .unwrap_or_else(|| panic!("no intent: {i:?}"));
    assert_eq!(intent.days, Some(180));
    assert_eq!(intent.max_days, Some(90));
    assert_eq!(
        rs().interpret("skip").intent().and_then(|i| i.max_days),
        None
    );
}

#[test]
fn priority_picks_the_reported_rule() {
    let files = [(
        "keywords/xx.toml",
        r#"
language = "xx"
[[rules]]
name = "skip_low"
action = "skip"
keywords = ["hop", "jump"]
priority = 1
[[rules]]
name = "skip_high"
action = "skip"
keywords = ["hop"]
priority = 5
[[rules]]
name = "assist"
action = "help"
keywords = ["assist"]
"#,
    )];
    let rs = RuleSet::from_sources(&files).unwrap_or_else(|e| panic!("{e}"));
    let rule = |t: &str| rs.interpret(t).intent().map(|i| i.rule.clone());
    assert_eq!(rule("hop").as_deref(), Some("skip_high"));
    assert_eq!(rule("jump").as_deref(), Some("skip_low"));
    // A merchant's HELP keyword is answered mid-sentence too.
    assert_eq!(rule("can you assist please"), Some("assist".to_owned()));
    assert_eq!(rule("assist"), Some("assist".to_owned()));
}

#[test]
fn ruleset_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleSet>();
}

const GOOD: &str = r#"
language = "xx"
[[rules]]
name = "skip"
action = "skip"
keywords = ["hop"]
"#;

fn problems_of(text: &str) -> Vec<Problem> {
    match RuleSet::from_sources(&[("keywords/xx.toml", text)]) {
        Ok(_) => Vec::new(),
        Err(RulesError::Invalid(p)) => p,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn custom_rules_work() {
    let rs = RuleSet::from_sources(&[("keywords/xx.toml", GOOD)]).unwrap_or_else(|e| panic!("{e}"));
    let i = rs.interpret("HOP!");
    assert_eq!(
        i.intent().map(|i| (i.action, i.keyword.as_str())),
        Some((Action::Skip, "hop"))
    );
    // Opt-out words are built in, even with no grammar in the file.
    assert_eq!(
        rs.interpret("hop stop"),
        Interpretation::NoAction {
            reason: REASON_OPT_OUT
        }
    );
}

#[test]
fn check_reports_every_problem_with_lines() {
    let text = r#"language = "en"
colour = "blue"

[[rules]]
name = "skip"
action = "skp"
keywords = ["skip"]

[[rules]]
name = "skip"
action = "skip"
keywords = ["hop"]
priorty = 3

[[rules]]
name = "delay"
action = "delay"
keywords = ["wait", "stop"]
default_days = 30
max_days = 10

[[rules]]
name = "later"
action = "delay"
keywords = ["hop", "push back"]
max_days = 10

[[rules]]
name = "nothing"
action = "help"
keywords = []
"#;
    let p = problems_of(text);
    let find = |needle: &str| {
        p.iter()
            .find(|p| p.message.contains(needle))
            .unwrap_or_else(|| panic!("no problem mentioning {needle:?} in:\n{p:#?}"))
    };
    assert_eq!(find("unknown key `colour`").line, 2);
    let action = find("unknown action \"skp\"");
    assert_eq!(action.line, 6);
    assert_eq!(action.fix, "use one of skip, delay, help, undo, status");
    assert_eq!(
        action.to_string(),
        "keywords/xx.toml:6: unknown action \"skp\" (fix: use one of skip, delay, help, undo, status)"
    );
    assert_eq!(find("duplicate rule name").line, 10);
    let typo = find("unknown key `priorty`");
    assert_eq!(typo.line, 13);
    assert!(typo.fix.contains("did you mean `priority`"), "{}", typo.fix);
    assert_eq!(find("\"stop\" is an opt-out word").line, 18);
    assert_eq!(
        find("default_days (30) is greater than max_days (10)").line,
        19
    );
    assert_eq!(find("has no `default_days`").line, 23);
    assert_eq!(find("keyword \"hop\" is in rule").line, 25);
    assert_eq!(find("has several words").line, 25);
    assert_eq!(find("has no keywords").line, 31);
}

#[test]
fn check_reports_toml_syntax_errors() {
    let p = problems_of("language = \"en\"\n[[rules]]\nname = skip\n");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].line, 3);
    assert!(
        p[0].message.starts_with("TOML syntax error"),
        "{}",
        p[0].message
    );
}

#[test]
fn load_and_check_dir() {
    let dir = std::env::temp_dir().join(format!("keyroute-kw-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in EMBEDDED {
        let file = name.rsplit('/').next().unwrap_or(name);
        std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(check_dir(&dir), Vec::new());
    let rs = RuleSet::load_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rs.interpret("saltar").intent().map(|i| i.action),
        Some(Action::Skip)
    );

    std::fs::write(
        dir.join("zz.toml"),
        "language = \"zz\"\n[[rules]]\nname = \"x\"\naction = \"jump\"\nkeywords = [\"x\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let p = check_dir(&dir);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].file.ends_with("zz.toml") && p[0].line == 4, "{}", p[0]);
    assert!(matches!(
        RuleSet::load_dir(&dir),
        Err(RulesError::Invalid(_))
    ));
    let _ = std::fs::remove_dir_all(&dir);

    let missing = check_dir(Path::new("/definitely/not/here"));
    assert_eq!(missing.len(), 1);
    assert!(matches!(
        RuleSet::load_dir(Path::new("/definitely/not/here")),
        Err(RulesError::Io { .. })
    ));
}

mod props {
    use super::super::normalize::normalize_text;
    use super::*;
    use proptest::prelude::*;

    /// Words shoppers use, keywords and opt-outs included, to build plausible messages.
    const VOCAB: &[&str] = &[
        "skip", "SKIP", "delay", "2", "weeks", "a", "month", "help", "undo", "please", "don't",
        "no", "yes", "my", "order", "this", "one", "saltar", "retrasar", "dos", "semanas",
        "sauter", "reporter", "deux", "semaines", "ne", "pas", "?", "!", ",", ".", "🙏", "sikp",
        "never", "mind", "can", "you", "I", "want", "to", "the", "line", "or", "but", "skiiip",
    ];
    const OPT_OUTS: &[&str] = &[
        "stop",
        "STOP",
        "Stop!",
        "cancel",
        "END",
        "quit",
        "unsubscribe",
        "stopall",
        "revoke",
        "opt out",
        "OPT-OUT",
        "alto",
        "PARAR",
        "stooop",
        "annuler",
    ];

    fn message() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(VOCAB), 0..12).prop_map(|w| w.join(" "))
    }

    fn message_without_negation() -> impl Strategy<Value = String> {
        let words: Vec<&str> = VOCAB
            .iter()
            .copied()
            .filter(|w| !matches!(*w, "don't" | "never" | "pas" | "no" | "ne"))
            .collect();
        proptest::collection::vec(proptest::sample::select(words), 0..12).prop_map(|w| w.join(" "))
    }

    /// Up to 2 KiB of arbitrary text.
    fn arbitrary_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..700).prop_map(|cs| {
            let mut s = String::new();
            for c in cs {
                if s.len() + c.len_utf8() > 2048 {
                    break;
                }
                s.push(c);
            }
            s
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn never_panics(s in arbitrary_text()) {
            let _ = rs().interpret(&s);
        }

        #[test]
        fn never_panics_on_wordy_text(s in message()) {
            let _ = rs().interpret(&s);
        }

        #[test]
        fn normalisation_is_idempotent(s in arbitrary_text()) {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn normalisation_is_idempotent_on_words(s in message()) {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn negated_keyword_never_acts(
            before in message(),
            after in message(),
            neg in proptest::sample::select(&["don't", "do not", "no", "never", "no quiero", "ne pas"][..]),
            (kw, action) in proptest::sample::select(&[
                ("skip", Action::Skip), ("delay", Action::Delay), ("undo", Action::Undo),
                ("saltar", Action::Skip), ("sauter", Action::Skip), ("retrasar", Action::Delay),
            ][..]),
        ) {
            let text = format!("{before}. {neg} {kw} {after}");
            let got = rs().interpret(&text);
            prop_assert!(got.intent().is_none_or(|i| i.action != action), "{:?} -> {:?}", text, got);
        }

        #[test]
        fn opt_out_anywhere_never_acts(
            // A negation right before the word keeps the shopper on ("don't cancel, skip
            // it"): not an opt-out, and not what this property is about.
            before in message_without_negation(),
            after in message(),
            opt in proptest::sample::select(OPT_OUTS),
        ) {
            let text = format!("{before} {opt} {after}");
            prop_assert_eq!(
                rs().interpret(&text),
                Interpretation::NoAction { reason: REASON_OPT_OUT },
                "{:?}", text
            );
        }
    }
}

#[test]
fn empty_dir_is_a_problem_of_the_dir() {
    let dir = std::env::temp_dir().join(format!("keyroute-kw-empty-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let p = check_dir(&dir);
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!(p[0].file, dir.display().to_string());
    let err = RuleSet::load_dir(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("no keyword rule files"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Development aid: `KR_SET=dev3 cargo test --lib corpus_report -- --ignored --nocapture`
/// prints the scores and every miss of a development part (`old`, `dev` (the default) ..
/// `dev6`), or only the totals of `val`; never anything of the frozen test part.
#[test]
#[ignore]
fn corpus_report() {
    let set = std::env::var("KR_SET").unwrap_or_else(|_| "dev".to_owned());
    if set == "val" {
        // Measured, never read: only the totals.
        let r = super::corpus::score(rs(), &super::corpus::parse(super::corpus::VALIDATION));
        println!("{}\n{}", r.table(), r.summary("val"));
        return;
    }
    let name = set.as_str();
    let dev = super::corpus::parse(super::corpus::development(name).unwrap_or_default());
    let r = super::corpus::score(rs(), &dev);
    for (text, want, got, sure) in &r.misses {
        let mark = if *sure { "" } else { " (unsure)" };
        println!("{want:>18} <- {got}{mark}: {text}");
    }
    println!("{}", r.table());
    println!("{}", r.summary(name));
}

/// Development aid: `KR_TEXT='skip it' cargo test --lib explain_text -- --ignored --nocapture`.
#[test]
#[ignore]
fn explain_text() {
    for t in std::env::var("KR_TEXT").unwrap_or_default().split('|') {
        println!("{t}\n{}\n", super::reader::explain(rs(), t));
    }
}

/// Development aid: every reading of a development split, as `label<TAB>got<TAB>sure<TAB>text`
/// (`KR_SET=old|dev|dev2|...|dev6`), for studying which readings go wrong.
#[test]
#[ignore]
fn corpus_dump() {
    let set = std::env::var("KR_SET").unwrap_or_else(|_| "dev".to_owned());
    let text = super::corpus::development(&set).unwrap_or_default();
    for l in super::corpus::parse(text) {
        let (got, sure) =
            super::corpus::label_of(&rs().interpret_on(&l.text, super::corpus::reference_date()));
        println!("{}\t{got}\t{sure}\t{}", l.label, l.text);
    }
}
