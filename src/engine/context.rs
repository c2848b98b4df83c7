//! Typed replies understood in the context of the question the bot has just asked: "no" to
//! "Are you safe right now?", "yeah" to a flow step's Yes button, "the second one" to "Did you
//! mean one of these?", "yes" to "Delete everything?". And a first message that says who is
//! writing ("my daughter...") from someone who never chose an audience.
//!
//! The words are content (`locales/<lang>/answers.toml`, read by `content::answers`); this
//! module decides what they mean here. It runs after the crisis check, never instead of it:
//! `Turn::text` checks the whole message for a cry for help first, in every state, and only a
//! message without one reaches `answer`. Like the rest of the engine it does no I/O.

use super::{Action, Awaiting, Choice, Effect, FlowPosition, Session, Turn};
use crate::content::answers::{LabelKind, Meaning, Question, Reading};
use crate::content::{Answers, OptionTarget, StepOption};
use crate::ids::{Audience, FlowId};
use crate::matcher::{Analysis, Decision, Target};

/// What a typed answer to a yes/no question says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum YesNo {
    Yes,
    No,
    Unsure,
}

impl YesNo {
    /// A whole answer read as one of yes, no or "not sure": leaning and hedged answers count
    /// as what they lean to ("i think so" is yes, "kind of not" is no); a hedge alone
    /// ("maybe") is "not sure"; yes and no together is `None`.
    fn of(reading: &Reading) -> Option<YesNo> {
        let mut said = None;
        let mut hedged = false;
        for meaning in reading.said() {
            let this = match meaning {
                Meaning::Yes | Meaning::LeaningYes => YesNo::Yes,
                Meaning::No | Meaning::LeaningNo => YesNo::No,
                Meaning::Unsure => YesNo::Unsure,
                Meaning::Hedge => {
                    hedged = true;
                    continue;
                }
                _ => return None,
            };
            match said {
                None => said = Some(this),
                Some(s) if s == this => {}
                Some(_) => return None,
            }
        }
        said.or(hedged.then_some(YesNo::Unsure))
    }

    fn label(self) -> LabelKind {
        match self {
            YesNo::Yes => LabelKind::Yes,
            YesNo::No => LabelKind::No,
            YesNo::Unsure => LabelKind::Unsure,
        }
    }

    fn name(self) -> &'static str {
        match self {
            YesNo::Yes => "yes",
            YesNo::No => "no",
            YesNo::Unsure => "not_sure",
        }
    }
}

impl Turn<'_> {
    fn answers(&self) -> &Answers {
        self.content.answers(&self.session.locale)
    }

    /// A topic or flow kept in the session, if it still exists (content may have changed
    /// since it was stored).
    /// The offered choices that are still in the content, in order.
    pub(super) fn targets_of<'c>(
        &self,
        choices: impl IntoIterator<Item = &'c Choice>,
    ) -> Vec<Target> {
        choices
            .into_iter()
            .filter_map(|c| self.target_of(c))
            .collect()
    }

    pub(super) fn target_of(&self, choice: &Choice) -> Option<Target> {
        match choice {
            Choice::Topic(id) => self
                .content
                .topics
                .contains_key(id)
                .then(|| Target::Topic(id.clone())),
            Choice::Flow(id) => self
                .content
                .flows
                .contains_key(id)
                .then(|| Target::Flow(id.clone())),
        }
    }

    pub(super) fn choice_of(target: &Target) -> Choice {
        match target {
            Target::Topic(id) => Choice::Topic(id.clone()),
            Target::Flow(id) => Choice::Flow(id.clone()),
        }
    }

    /// Someone who never said who they are and writes "my daughter..." is a parent: from this
    /// reply on, the bot words things for a parent, and says so with the other audiences as
    /// buttons (`say_guessed_audience`).
    ///
    /// Why set it rather than ask: a worried parent who writes "my son has been sectioned, can
    /// I visit" expects an answer about their son, now; a "Who are you?" first puts a question
    /// between them and it, and answering as if to the child ("if you are on a section") is
    /// wrong and jarring, in a crisis most of all. Why keep it rather than use it for one
    /// reply: their next message ("can I ring the ward") rarely names the child again, and a
    /// reply that swaps back to the child's wording would read as if to someone else. A wrong
    /// guess (a young parent on a ward asking about their own baby) is visible at once and one
    /// tap, or /audience, puts it right.
    pub(super) fn guess_audience(&mut self, text: &str) {
        if self.session.audience.is_some() {
            return;
        }
        if let Some(audience) = self.answers().audience(text) {
            self.session.audience = Some(audience);
            self.guessed_audience = Some(audience);
        }
    }

    /// After the replies to a message that set the audience by guessing: says so, with the
    /// other audiences a tap away.
    pub(super) fn say_guessed_audience(&mut self) {
        let Some(guessed) = self.guessed_audience else {
            return;
        };
        let rows = Audience::ALL
            .iter()
            .filter(|a| **a != guessed)
            .map(|a| vec![self.btn(&format!("audience.{a}"), Action::SetAudience(*a))])
            .collect();
        let text = self.ui(&format!("audience.guessed.{guessed}"));
        self.say(None, text, rows);
    }

    /// Whether `text` is wholly a clear "yes, I'm safe" to "Are you safe right now?".
    pub(super) fn reads_as_safe(&self, text: &str) -> bool {
        let reading = self.answers().read(text, Question::Safety);
        reading.whole
            && reading.said().next().is_some()
            && reading
                .said()
                .all(|m| matches!(m, Meaning::Yes | Meaning::Safe))
    }

    /// Whether `text` is nothing but an answer to a choice or a yes/no step the bot just
    /// offered: a place ("the second one", "2") or a yes or no.
    pub(super) fn reads_as_plain_answer(&self, pending: &Awaiting, text: &str) -> bool {
        let question = match pending {
            Awaiting::Clarify { .. } => Question::Choice,
            Awaiting::FlowStep(_) => Question::YesNo,
            _ => return false,
        };
        let reading = self.answers().read(text, question);
        reading.whole && reading.said().next().is_some()
    }

    /// Reads `text` as the answer to `pending`, the question just asked, and replies. False
    /// when it is not an answer to it: then it is a new question for the matcher's decision.
    /// Only ever called for a message with no crisis signal.
    pub(super) fn answer(&mut self, pending: Awaiting, text: &str, analysis: &Analysis) -> bool {
        match pending {
            Awaiting::ForgetConfirm => self.answer_forget(text),
            Awaiting::Audience => self.answer_audience(text, true),
            Awaiting::CrisisCheck { offer, also } => {
                let offers = self.targets_of(offer.iter().chain(&also));
                self.answer_crisis_check(offers, text, analysis)
            }
            Awaiting::FlowStep(position) => self.answer_flow_step(&position, text),
            Awaiting::Clarify { choices } => {
                let choices: Vec<Target> =
                    choices.iter().filter_map(|c| self.target_of(c)).collect();
                !choices.is_empty() && self.answer_clarify(&choices, text)
            }
        }
    }

    /// "Who are you?" answered by typing: "a parent", "im a young person" (`[who]`), or, just
    /// after `/audience` asked it (`asked`), a place ("2"). The same as the button. Not by a
    /// button's title: "advocate" alone is as often "I want an advocate", a question of its
    /// own, as "I am one".
    pub(super) fn answer_audience(&mut self, text: &str, asked: bool) -> bool {
        let audience = match self.answers().who(text) {
            Some(a) => {
                self.trace.read_as = Some("who");
                a
            }
            None if !asked => return false,
            None => {
                let reading = self.answers().read(text, Question::Choice);
                let mut places = reading.said().map(|m| match m {
                    Meaning::Place(p) => p.index(Audience::ALL.len()),
                    _ => None,
                });
                let (Some(Some(i)), None) = (places.next(), places.next()) else {
                    return false;
                };
                if !reading.whole {
                    return false;
                }
                self.trace.read_as = Some("place");
                Audience::ALL[i]
            }
        };
        // Said, not guessed: no need to say it was guessed.
        self.guessed_audience = None;
        self.set_audience(audience);
        true
    }

    /// "Delete everything?": a clear typed yes deletes, as the button does; a no keeps it.
    /// Anything else leaves it undeleted and is read as a new question.
    fn answer_forget(&mut self, text: &str) -> bool {
        let reading = self.answers().read(text, Question::YesNo);
        let clear = |m: Meaning| reading.whole && reading.said().all(|s| s == m);
        if reading.said().next().is_none() {
            return false;
        }
        if clear(Meaning::Yes) {
            self.trace.read_as = Some("yes");
            self.forget_confirmed();
        } else if reading.whole && YesNo::of(&reading) == Some(YesNo::No) {
            self.trace.read_as = Some("no");
            self.say(None, self.ui("forget.cancelled"), vec![self.menu_row()]);
        } else {
            return false;
        }
        true
    }

    pub(super) fn forget_confirmed(&mut self) {
        self.effect = Effect::Forget;
        let text = self.ui("forget.done");
        self.session = Session::fresh(self.content.default_locale.clone(), 0);
        self.say(None, text, vec![]);
    }

    /// "Are you safe right now?" answered by typing.
    ///
    /// Only a clear yes ("yes", "yeah im ok", "i'm fine") carries on, as the "I'm OK" button
    /// does. A no, a "not sure", a hedge ("i think so", "kind of"), a yes and a no together,
    /// or a message that starts with any of those ("no, can they take my phone") gets the
    /// full crisis reply, with a topic the message asked about offered after the helplines.
    /// A message that is no answer at all is read as a new question if it is one about a
    /// topic (the matcher answers or clarifies); anything else ("whatever", "bye", "hi",
    /// "leave me alone", an emoji) also gets the full crisis reply.
    ///
    /// Why the full reply, not the question again, for an unclear answer: the question was
    /// asked because the last message may have been a cry for help. Showing the helplines
    /// costs one message to someone who is fine; asking again puts another round between
    /// someone who is not and the numbers, and a person in distress who did not answer the
    /// first time may not answer a second. The crisis reply does not end the conversation: it
    /// keeps the menu and the topic, and help stays on screen either way.
    fn answer_crisis_check(
        &mut self,
        offers: Vec<Target>,
        text: &str,
        analysis: &Analysis,
    ) -> bool {
        let reading = self.answers().read(text, Question::Safety);
        let safe = |m: Meaning| matches!(m, Meaning::Yes | Meaning::Safe);
        if reading.whole && reading.said().next().is_some() && reading.said().all(safe) {
            self.trace.read_as = Some("safe");
            self.crisis_ok(offers);
            return true;
        }
        // A topic the rest of the message asked about ("no, and can they take my phone"); a
        // message that is all answer ("no") asked about none, whatever the matcher made of it.
        let matched = match &analysis.decision {
            Decision::Answer { target, .. } if !reading.whole => Some(target.clone()),
            _ => None,
        };
        let not_safe = reading.leading().is_some_and(|m| !safe(m))
            || (reading.whole && reading.said().next().is_some());
        // Only a clear answer about a topic counts: "did you mean...?" after "are you safe?"
        // would put a question between someone unclear and the help.
        let topic_question = matches!(analysis.decision, Decision::Answer { .. });
        if !not_safe && topic_question {
            return false;
        }
        self.trace.read_as = Some(if not_safe { "not_safe" } else { "unclear" });
        self.crisis(false, matched.or(offers.into_iter().next()));
        true
    }

    /// A flow step answered by typing: yes, no or "not sure" pick the option whose label says
    /// so; a place ("the second one") or an option's label pick that option. An answer that
    /// fits no option (or two) gets the step again; anything else is a new question.
    fn answer_flow_step(&mut self, position: &FlowPosition, text: &str) -> bool {
        let Some(step) = self
            .content
            .flows
            .get(&position.flow)
            .and_then(|f| f.steps.get(&position.step))
        else {
            return false;
        };
        let reading = self.answers().read(text, Question::YesNo);
        // A step asks yes or no when one of its labels says so; a step that only offers
        // topics to read next is not answered by "no".
        let asks_yes_no = step.options.iter().any(|o| {
            let label = self.answers().label(&o.label);
            label.leading.is_some() || label.unsure
        });
        if asks_yes_no && reading.whole && reading.said().next().is_some() {
            let said = YesNo::of(&reading);
            match said.and_then(|s| self.option_saying(&step.options, s)) {
                Some(option) => {
                    self.trace.read_as = said.map(YesNo::name);
                    self.follow(&position.flow, option);
                }
                None => {
                    self.trace.read_as = Some("unclear");
                    self.say(None, self.ui("answers.again"), vec![]);
                    self.flow_step(&position.flow, Some(&position.step));
                }
            }
            return true;
        }
        let labels: Vec<&str> = step.options.iter().map(|o| o.label.as_str()).collect();
        match self.pick(text, &labels) {
            Pick::One(i, how) => {
                self.trace.read_as = Some(how);
                self.follow(&position.flow, &step.options[i]);
                true
            }
            // "No" to a step that offers topics to read next: not a new question (the
            // matcher would make a topic of it), so the step again.
            Pick::Unclear | Pick::NoneOfThese => {
                self.trace.read_as = Some("unclear");
                self.say(None, self.ui("answers.again"), vec![]);
                self.flow_step(&position.flow, Some(&position.step));
                true
            }
            Pick::Nothing => false,
        }
    }

    /// The one option whose label stands for `said`: "Yes, staff said which law" for yes.
    /// For "not sure", a label that starts so ("Not sure") comes before one that only offers
    /// it ("No, or I don't know"). `None` when no option, or two, fit.
    fn option_saying<'o>(&self, options: &'o [StepOption], said: YesNo) -> Option<&'o StepOption> {
        let want = said.label();
        let read: Vec<_> = options
            .iter()
            .map(|o| (o, self.answers().label(&o.label)))
            .collect();
        let leading: Vec<_> = read
            .iter()
            .filter(|(_, r)| r.leading == Some(want))
            .collect();
        match leading.as_slice() {
            [(one, _)] => return Some(one),
            [] => {}
            _ => return None,
        }
        if said != YesNo::Unsure {
            return None;
        }
        let offering: Vec<_> = read.iter().filter(|(_, r)| r.unsure).collect();
        match offering.as_slice() {
            [(one, _)] => Some(one),
            _ => None,
        }
    }

    /// Does what pressing `option` does.
    fn follow(&mut self, flow: &FlowId, option: &StepOption) {
        match &option.target {
            OptionTarget::Step(step) => self.flow_step(flow, Some(step)),
            OptionTarget::Topic(topic) => self.topic(topic),
            OptionTarget::Flow(next) => self.flow_step(next, None),
        }
    }

    /// "Did you mean one of these?" answered by typing: a place ("the second one", "2",
    /// "the last one"), a title ("phones"), "neither" (the menu, as "Something else" does),
    /// or "yes" when only one was offered. An answer that fits none gets the question again.
    fn answer_clarify(&mut self, choices: &[Target], text: &str) -> bool {
        let titles: Vec<&str> = choices.iter().map(|c| self.title_of(c)).collect();
        let reading = self.answers().read(text, Question::Choice);
        if choices.len() == 1 && reading.whole && YesNo::of(&reading) == Some(YesNo::Yes) {
            self.trace.read_as = Some("yes");
            self.open_target(&choices[0]);
            return true;
        }
        match self.pick(text, &titles) {
            Pick::One(i, how) => {
                self.trace.read_as = Some(how);
                self.open_target(&choices[i]);
            }
            Pick::NoneOfThese => {
                self.trace.read_as = Some("none");
                self.menu();
            }
            Pick::Unclear => {
                self.trace.read_as = Some("unclear");
                self.say(None, self.ui("answers.again"), vec![]);
                self.clarify(choices);
            }
            Pick::Nothing => return false,
        }
        true
    }

    fn title_of(&self, target: &Target) -> &str {
        match target {
            Target::Topic(id) => &self.content.topics[id].title,
            Target::Flow(id) => &self.content.flows[id].title,
        }
    }

    /// Which of the buttons labelled `labels` a typed message picks.
    fn pick(&self, text: &str, labels: &[&str]) -> Pick {
        let reading = self.answers().read(text, Question::Choice);
        if reading.whole {
            let said: Vec<Meaning> = reading.said().collect();
            let mut places = said.iter().filter_map(|m| match m {
                Meaning::Place(p) => Some(p.index(labels.len())),
                _ => None,
            });
            if let Some(first) = places.next() {
                let same = places.all(|p| p == first);
                let only_places = said.iter().all(|m| matches!(m, Meaning::Place(_)));
                return match first {
                    Some(i) if same && only_places => Pick::One(i, "place"),
                    _ => Pick::Unclear,
                };
            }
            let none =
                |m: &Meaning| matches!(m, Meaning::NoneOfThese | Meaning::No | Meaning::LeaningNo);
            if !said.is_empty() && said.iter().all(none) {
                return Pick::NoneOfThese;
            }
        }
        if let Some(i) = self.pick_by_title(text, labels) {
            return Pick::One(i, "title");
        }
        if reading.whole && reading.said().next().is_some() {
            return Pick::Unclear;
        }
        Pick::Nothing
    }

    /// The one label every word of `text` (filler aside) is in, allowing a typo or a
    /// different ending: "phones" picks "Phones, internet and post", "restrant" picks
    /// "Restraint". `None` when no label or several fit, or a word fits none: then it is a
    /// question of its own, for the matcher.
    fn pick_by_title(&self, text: &str, labels: &[&str]) -> Option<usize> {
        let typed = self.answers().content_words(text);
        if typed.is_empty() {
            return None;
        }
        let fits: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(_, label)| {
                let words = crate::content::answers::words(label);
                typed.iter().all(|t| words.iter().any(|w| similar(t, w)))
            })
            .map(|(i, _)| i)
            .collect();
        match fits.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// What "I'm OK, carry on" does, pressed or typed: glad, help stays on screen (the crisis
    /// state is left as it is), and what else the message asked about is one tap away.
    pub(super) fn crisis_ok(&mut self, offers: Vec<Target>) {
        let mut rows: Vec<Vec<_>> = offers
            .iter()
            .map(|target| vec![self.target_button(target)])
            .collect();
        rows.push(self.menu_row());
        self.say(None, self.ui("crisis.ok_reply"), rows);
    }
}

/// What a typed message picks among buttons.
enum Pick {
    /// This one, and how it was found ("place" or "title").
    One(usize, &'static str),
    /// "Neither", "none of them", "no".
    NoneOfThese,
    /// Answer words that pick nothing ("the fifth one" of three, "1 or 2").
    Unclear,
    /// Not an answer to this question at all.
    Nothing,
}

/// Two words are the same word for picking a button: equal, one the other with an ending
/// ("phone", "phones"; at least four letters in common), or one typo apart (five letters or
/// more).
fn similar(typed: &str, word: &str) -> bool {
    if typed == word {
        return true;
    }
    let (short, long) = match typed.chars().count() <= word.chars().count() {
        true => (typed, word),
        false => (word, typed),
    };
    let short_len = short.chars().count();
    if short_len >= 4 && long.starts_with(short) && long.chars().count() - short_len <= 3 {
        return true;
    }
    short_len >= 5 && strsim::osa_distance(typed, word) <= 1
}

#[cfg(test)]
mod tests {
    use super::similar;

    #[test]
    fn words_are_similar_with_an_ending_or_a_typo() {
        assert!(similar("phones", "phones"));
        assert!(similar("phone", "phones"));
        assert!(similar("restrant", "restraint"));
        assert!(similar("visits", "visit"));
        assert!(!similar("rest", "restraint"));
        assert!(!similar("leave", "leaving"));
        assert!(similar("sectioned", "section"));
        assert!(!similar("mum", "me"));
    }
}
