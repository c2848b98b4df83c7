//! The semantic layer: what a message means, beyond its words. A message is read whole and in
//! pieces (each sentence, each pair of sentences, windows of a long unpunctuated one), every
//! piece becomes a sentence vector (read in context, from one pass through the model
//! over the message's windows, each piece in the light of its neighbours; read again alone when
//! that reading hears any danger), and the pieces are compared with
//! - the phrasings of every topic, flow and intent, and the out-of-scope ones: how close the
//!   message comes to each (the best piece counts, so a parent's paragraph is judged by the
//!   sentence that asks);
//! - the meaning classifier (a softmax head over every topic, flow and intent, out of scope, and
//!   each kind of danger and of safe-but-emotional message, trained on all the labelled texts):
//!   how likely each topic is, how likely the message is out of scope, and the risk that it
//!   says danger now; the risk of the most worrying piece counts, so danger buried in a long
//!   message is not averaged away, and the kind of danger it sounds like (harm by others gets
//!   the abuse helplines);
//! - the danger examples, for the id of the nearest one, which traces show instead of any text.
//!
//! It never decides alone: `Matcher` weighs this evidence with the lexical scores.

use super::Doc;
use crate::content::{
    Locale, PhrasingTarget, RiskExample,
    semantic::{Heads, SoftmaxHead},
};
use crate::embedder::{Bank, Embedder};
use std::ops::Range;

/// Pieces longer than this many words are cut into overlapping windows.
const WINDOW_WORDS: usize = 32;
/// More pieces than this are not read (a 4,096-character message makes about 60).
const MAX_PIECES: usize = 96;
/// A clause shorter than this many words is not read on its own.
const CLAUSE_MIN_WORDS: usize = 4;
/// A message read in context whose most worrying piece has at least this risk of danger is
/// read again with every piece on its own, as before round 15. In context a sentence that says
/// danger can sound calmer than alone ("first time in ages i slept properly. made my decision":
/// 0.94 alone, 0.41 in context). Measured on every labelled set (14,015 messages), messages of
/// one window: read in context only, 9 of 3,112 danger messages lost their check question; read
/// again from here, none did (the first loss comes at 0.4), while the context took 54 of 288
/// alarms off hard negatives and gave 77 more first answers to rights questions, at the cost of
/// 15 more wrong ones (longer messages: 23 alarms fewer, 16 first answers more, 4 wrong more). Low on purpose: a danger sentence's risk can fall further in context than any
/// labelled message showed.
const REREAD_ALONE_MIN: f32 = 0.1;

/// What one class of the meaning classifier stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Class {
    Doc(usize),
    OutOfScope,
    Danger {
        kind: String,
        abuse: bool,
    },
    Safe,
    /// A class whose topic or flow is not in today's content (never expected: the head is
    /// trained on today's phrasings).
    Unknown,
}

pub(super) struct Semantic {
    embedder: Embedder,
    /// The vectors of every phrasing and trigger (learnt messages aside), and for each
    /// document which of them are its own: the nearest one's id is what traces show. Only the
    /// document a decision names is searched, never the whole bank: comparing each of a long
    /// message's pieces with every phrasing was a matrix product larger than the message's
    /// whole reading.
    bank: Bank,
    phrasings_of: Vec<Vec<usize>>,
    ids: Vec<String>,
    head: SoftmaxHead,
    classes: Vec<Class>,
    /// The same classifier fitted without the learnt messages, with its classes, when there
    /// are learnt messages: the risk of danger is read from it (`Heads::risk`).
    risk: Option<(SoftmaxHead, Vec<Class>)>,
    danger_bank: Bank,
    danger_ids: Vec<String>,
    docs: usize,
}

/// What the semantic layer read in one message.
#[derive(Clone, Debug, Default)]
pub(super) struct Reading {
    /// Per document: how likely the message asks about it, among the questions it could be
    /// asking (the danger and safe classes left aside): the mean of the whole message's
    /// probability and its pieces' average, so a parent's paragraph is read for its question
    /// without one stray sentence deciding.
    pub doc_scores: Vec<f32>,
    /// The vectors of the pieces read (the whole message first): what the nearest phrasing is
    /// found from.
    pub vectors: Vec<Vec<f32>>,
    /// How likely the message is out of scope, on the same footing as `doc_scores`.
    pub out_of_scope: f32,
    /// The same, for the whole message alone.
    pub scope_risk: f32,
    /// The probability that the message says danger now: the mean of the whole message's
    /// and the most worrying piece's, so one dark sentence in a calm paragraph counts, but
    /// less than a message that is dark throughout.
    pub risk: f32,
    /// The probability for the most worrying piece alone.
    pub peak: f32,
    /// The probability for the whole message read at once.
    pub whole_risk: f32,
    /// The danger example nearest that piece, the kind of danger the classifier hears in it,
    /// and whether most of that danger is harm by others.
    pub danger_nearest: Option<String>,
    pub danger_kind: Option<String>,
    pub abuse: bool,
}

impl Semantic {
    /// `None` when the locale has no model or no fresh vectors: then words alone decide.
    /// `holdout` leaves phrasings and examples out (by id), for cross-validation.
    pub fn new(
        locale: &Locale,
        docs: &[Doc],
        doc_of: impl Fn(&PhrasingTarget) -> Option<usize>,
        doc_triggers: &[Vec<&str>],
        abuse_kinds: &[String],
        holdout: &dyn Fn(&str) -> bool,
        heads: Option<Heads>,
    ) -> Option<Self> {
        let model = locale.model.as_ref()?;
        let vectors = locale.vectors.as_ref()?;
        let embedder = Embedder::new(&model.weights, &model.tokenizer, &model.config).ok()?;

        // (document, vector, id) of every phrasing and trigger.
        let mut kept: Vec<(usize, &[half::f16], String)> = Vec::new();
        for (doc, triggers) in doc_triggers.iter().enumerate() {
            for (n, trigger) in triggers.iter().enumerate() {
                if let Some(v) = vectors.get(trigger) {
                    kept.push((doc, v, format!("{}#trigger{}", doc_name(&docs[doc]), n + 1)));
                }
            }
        }
        // Traces name the bot's own phrasings: the thousands of learnt messages would more than
        // double the bank for a name.
        for phrasing in locale
            .phrasings
            .iter()
            .filter(|p| !p.learnt && !holdout(&p.id))
        {
            if let (Some(owner), Some(v)) = (doc_of(&phrasing.target), vectors.get(&phrasing.text))
            {
                kept.push((owner, v, phrasing.id.clone()));
            }
        }
        let mut phrasings_of = vec![Vec::new(); docs.len()];
        for (row, (doc, _, _)) in kept.iter().enumerate() {
            phrasings_of[*doc].push(row);
        }
        let rows: Vec<&[half::f16]> = kept.iter().map(|(_, v, _)| *v).collect();
        let ids: Vec<String> = kept.into_iter().map(|(_, _, id)| id).collect();
        let bank = Bank::new(&rows);

        let mut danger_rows: Vec<&[half::f16]> = Vec::new();
        let mut danger_ids = Vec::new();
        for example in locale
            .risk_examples
            .iter()
            .filter(|e| e.danger && !holdout(&e.id))
        {
            if let Some(v) = vectors.get(&example.text) {
                danger_rows.push(v);
                danger_ids.push(example.id.clone());
            }
        }
        let (head, risk_head) = match heads {
            Some(h) => (h.meaning, h.risk),
            None => (vectors.meaning_head.clone(), vectors.risk_head.clone()),
        };
        // Each class label names what it stands for; a topic's or flow's label is found
        // through its phrasings, so labels and documents can never drift apart.
        let mut doc_by_label = std::collections::HashMap::new();
        for phrasing in &locale.phrasings {
            if let Some(doc) = doc_of(&phrasing.target) {
                doc_by_label.insert(phrasing_label(&phrasing.target), doc);
            }
        }
        let class_of = |label: &String| {
            if let Some(&doc) = doc_by_label.get(label) {
                Class::Doc(doc)
            } else if label == OUT_OF_SCOPE_LABEL {
                Class::OutOfScope
            } else if let Some(kind) = label.strip_prefix(DANGER_PREFIX) {
                Class::Danger {
                    kind: kind.to_owned(),
                    abuse: abuse_kinds.iter().any(|k| k == kind),
                }
            } else if label.starts_with(SAFE_PREFIX) {
                Class::Safe
            } else {
                Class::Unknown
            }
        };
        let classes = head.classes.iter().map(class_of).collect();
        // Without learnt messages (or from a vectors file older than the risk head) the two
        // heads are one.
        let risk = (!risk_head.is_empty() && risk_head != head).then(|| {
            let classes = risk_head.classes.iter().map(class_of).collect();
            (risk_head, classes)
        });
        Some(Self {
            embedder,
            bank,
            phrasings_of,
            ids,
            head,
            classes,
            risk,
            danger_bank: Bank::new(&danger_rows),
            danger_ids,
            docs: docs.len(),
        })
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// The id of `doc`'s phrasing that came closest to any piece of the message (a parent's
    /// paragraph is as near a topic as the sentence that asks), if any is near at all. Ties go
    /// to the earlier piece, then the earlier phrasing.
    pub fn nearest(&self, reading: &Reading, doc: usize) -> Option<String> {
        let rows = self.phrasings_of.get(doc)?.iter().copied();
        let row = self.bank.nearest(&reading.vectors, rows)?;
        Some(self.ids[row].clone())
    }

    /// Reads `text`; `None` if the model failed on it (words alone then decide).
    pub fn read(&self, text: &str) -> Option<Reading> {
        let pieces = pieces(text);
        let in_context = match self.read_in_context(text, &pieces) {
            Some(InContext { vectors, exact }) => {
                let mut reading = self.read_vectors(vectors);
                if reading.peak < REREAD_ALONE_MIN {
                    return Some(reading);
                }
                InContext {
                    vectors: std::mem::take(&mut reading.vectors),
                    exact,
                }
            }
            // A window the model cannot take in one pass (a run of very long words): every
            // piece is read alone.
            None => InContext {
                vectors: vec![Vec::new(); pieces.len()],
                exact: vec![false; pieces.len()],
            },
        };
        // The second reading, every piece alone. A piece that was a whole window, or was read
        // alone already, has the vector it would get: only the others go through the model.
        let mut vectors = in_context.vectors;
        let again: Vec<usize> = (0..pieces.len())
            .filter(|&i| !in_context.exact[i])
            .collect();
        let texts: Vec<&str> = again.iter().map(|&i| pieces[i].as_str()).collect();
        for (&i, vector) in again.iter().zip(self.embedder.embed(&texts).ok()?) {
            vectors[i] = vector;
        }
        Some(self.read_vectors(vectors))
    }

    /// The reading of a message from one pass through the model over the windows of its
    /// text (one window for a message of up to `WINDOW_WORDS` words, as most are): each piece's
    /// vector is taken from the token vectors of a window that holds it (`Embedder::embed_spans`), so a
    /// sentence is read in the light of its neighbours ("i took an overdose three years ago.
    /// doing loads better these days"). A piece no window holds whole (two sentences across a
    /// window's edge, a window of one long sentence) is read alone. `None` if the model failed.
    fn read_in_context(&self, text: &str, pieces: &[String]) -> Option<InContext> {
        let joined = sentences(text).join(" ");
        let windows = window_ranges(&joined);
        let mut in_window: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); windows.len()];
        let mut alone: Vec<usize> = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let at = joined.find(piece.as_str());
            let window = at.and_then(|at| {
                windows
                    .iter()
                    .position(|w| w.start <= at && at + piece.len() <= w.end)
                    .map(|w| (w, at - windows[w].start))
            });
            match window {
                Some((w, start)) => in_window[w].push((i, start..start + piece.len())),
                None => alone.push(i),
            }
        }
        let read_windows: Vec<usize> = (0..windows.len())
            .filter(|&w| !in_window[w].is_empty())
            .collect();
        let spans: Vec<Vec<Range<usize>>> = read_windows
            .iter()
            .map(|&w| in_window[w].iter().map(|(_, span)| span.clone()).collect())
            .collect();
        let texts: Vec<(&str, &[Range<usize>])> = read_windows
            .iter()
            .zip(&spans)
            .map(|(&w, spans)| (&joined[windows[w].clone()], spans.as_slice()))
            .collect();
        let read = self.embedder.embed_spans(&texts).ok()??;
        let mut vectors = vec![Vec::new(); pieces.len()];
        let mut exact = vec![false; pieces.len()];
        for (&w, read) in read_windows.iter().zip(&read) {
            for ((i, span), vector) in in_window[w].iter().zip(&read[1..]) {
                // A piece that is the whole window gets the window's own vector, exactly as
                // if it were read alone.
                if span.len() == windows[w].len() {
                    vectors[*i] = read[0].clone();
                    exact[*i] = true;
                } else {
                    vectors[*i] = vector.clone();
                }
            }
        }
        let alone_texts: Vec<&str> = alone.iter().map(|&i| pieces[i].as_str()).collect();
        for (i, vector) in alone.iter().zip(self.embedder.embed(&alone_texts).ok()?) {
            vectors[*i] = vector;
            exact[*i] = true;
        }
        Some(InContext { vectors, exact })
    }

    /// The reading of a message from its pieces' vectors (the whole message first).
    pub fn read_vectors(&self, vectors: Vec<Vec<f32>>) -> Reading {
        let mut reading = Reading {
            doc_scores: vec![0.0; self.docs],
            vectors,
            ..Reading::default()
        };
        if reading.vectors.is_empty() || self.head.is_empty() {
            return reading;
        }
        let pieces: Vec<PieceMeaning> = reading.vectors.iter().map(|v| self.meaning(v)).collect();
        let whole = &pieces[0];
        let n = pieces.len() as f32;
        for doc in 0..self.docs {
            let average = pieces.iter().map(|p| p.docs[doc]).sum::<f32>() / n;
            reading.doc_scores[doc] = 0.5 * (whole.docs[doc] + average);
        }
        let average_out = pieces.iter().map(|p| p.out_of_scope).sum::<f32>() / n;
        reading.out_of_scope = 0.5 * (whole.out_of_scope + average_out);
        reading.scope_risk = whole.out_of_scope;
        let Some((worst, peak)) = pieces
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.danger.total_cmp(&b.1.danger).then(b.0.cmp(&a.0)))
        else {
            return reading;
        };
        reading.peak = peak.danger;
        reading.whole_risk = whole.danger;
        reading.risk = 0.5 * (whole.danger + peak.danger);
        reading.danger_kind = peak.kind.clone();
        reading.abuse = peak.abuse * 2.0 > peak.danger;
        let nearest = self.danger_bank.nearest(
            std::slice::from_ref(&reading.vectors[worst]),
            0..self.danger_bank.len(),
        );
        reading.danger_nearest = nearest.map(|i| self.danger_ids[i].clone());
        reading
    }

    /// What the meaning classifier makes of one piece.
    fn meaning(&self, vector: &[f32]) -> PieceMeaning {
        let probabilities = self.head.probabilities(vector);
        let mut piece = PieceMeaning {
            docs: vec![0.0; self.docs],
            ..PieceMeaning::default()
        };
        let mut question = 0.0;
        for (class, &p) in self.classes.iter().zip(&probabilities) {
            match class {
                Class::Doc(doc) => {
                    piece.docs[*doc] += p;
                    question += p;
                }
                Class::OutOfScope => {
                    piece.out_of_scope += p;
                    question += p;
                }
                Class::Danger { .. } | Class::Safe | Class::Unknown => {}
            }
        }
        let mut likeliest_danger = 0.0;
        let risk_probabilities;
        let (risk_classes, risk) = match &self.risk {
            Some((head, classes)) => {
                risk_probabilities = head.probabilities(vector);
                (classes, &risk_probabilities)
            }
            None => (&self.classes, &probabilities),
        };
        for (class, &p) in risk_classes.iter().zip(risk) {
            match class {
                Class::Danger { kind, abuse } => {
                    piece.danger += p;
                    if *abuse {
                        piece.abuse += p;
                    }
                    if p > likeliest_danger {
                        likeliest_danger = p;
                        piece.kind = Some(kind.clone());
                    }
                }
                Class::Doc(_) | Class::OutOfScope | Class::Safe | Class::Unknown => {}
            }
        }
        // Which question it asks is read apart from how it feels: a frightened rights
        // question is as much about its topic as a calm one.
        if question > 0.0 {
            piece.docs.iter_mut().for_each(|p| *p /= question);
            piece.out_of_scope /= question;
        }
        piece
    }
}

/// The pieces' vectors from the reading in context, and which of them are what reading the
/// piece alone would give (a whole window, or a piece no window held).
struct InContext {
    vectors: Vec<Vec<f32>>,
    exact: Vec<bool>,
}

#[derive(Default)]
struct PieceMeaning {
    docs: Vec<f32>,
    out_of_scope: f32,
    danger: f32,
    abuse: f32,
    kind: Option<String>,
}

fn doc_name(doc: &Doc) -> String {
    match doc {
        Doc::Target(t) => t.id().to_owned(),
        Doc::Intent(id, _) => format!("intent:{id}"),
    }
}

/// The pieces a message is read in: the whole, each sentence, each pair of neighbouring
/// sentences short enough to read as one (so "I used to cut. Not any more." is read together),
/// and overlapping windows of any piece too long to read well at once. Never empty; at most
/// `MAX_PIECES`. A pair longer than a window is left out: its sentences are read already, and
/// reading every long pair whole was most of the time a parent's paragraph took.
pub(super) fn pieces(text: &str) -> Vec<String> {
    let sentences = sentences(text);
    let mut out: Vec<String> = Vec::new();
    let mut push = |piece: String| {
        if !piece.is_empty() && !out.contains(&piece) {
            out.push(piece);
        }
    };
    for piece in windows(&sentences.join(" ")).into_iter().take(1) {
        push(piece);
    }
    if sentences.len() > 1 {
        for (i, sentence) in sentences.iter().enumerate() {
            windows(sentence).into_iter().for_each(&mut push);
            if let Some(next) = sentences.get(i + 1) {
                let pair = format!("{sentence} {next}");
                if fits_in_a_window(&pair) {
                    push(pair);
                }
            }
        }
    } else {
        windows(&sentences.concat()).into_iter().for_each(&mut push);
    }
    // A sentence longer than a window is read through overlapping windows already; its
    // clauses on top added half again to the time a parent's paragraph took, and on blind
    // rounds 12 to 15 caught no danger the windows missed.
    for sentence in sentences.iter().filter(|s| fits_in_a_window(s)) {
        clauses(sentence).into_iter().for_each(&mut push);
    }
    if out.is_empty() {
        out.push(text.trim().to_owned());
    }
    out.truncate(MAX_PIECES);
    out
}

/// The clauses of a sentence that runs several thoughts together with commas ("im so tired of
/// everything, said my goodbyes on snap, its easier that way"): read on their own, one of them
/// can say what the whole sentence, diluted by the others, does not. Clauses of a few words
/// say too little to read alone; a sentence without two commas is read whole already.
fn clauses(sentence: &str) -> Vec<String> {
    let parts: Vec<&str> = sentence.split(',').map(str::trim).collect();
    if parts.len() < 3 {
        return Vec::new();
    }
    parts
        .into_iter()
        .filter(|part| part.split_whitespace().count() >= CLAUSE_MIN_WORDS)
        .map(str::to_owned)
        .collect()
}

/// Sentences, cut at . ! ? ; and line breaks.
fn sentences(text: &str) -> Vec<String> {
    text.split(['.', '!', '?', ';', '\n'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

/// Whether `piece` is read whole rather than through overlapping windows.
fn fits_in_a_window(piece: &str) -> bool {
    piece.split_whitespace().count() <= WINDOW_WORDS
}

/// The piece itself if short; else windows of `WINDOW_WORDS` words overlapping by half.
fn windows(piece: &str) -> Vec<String> {
    let normalised = piece.split_whitespace().collect::<Vec<_>>().join(" ");
    window_ranges(&normalised)
        .into_iter()
        .map(|range| normalised[range].to_owned())
        .collect()
}

/// The byte ranges of `windows` in a text whose words are one space apart.
fn window_ranges(text: &str) -> Vec<Range<usize>> {
    let mut starts = Vec::new();
    let mut ends = Vec::new();
    let mut in_word = false;
    for (at, c) in text.char_indices() {
        match (c == ' ', in_word) {
            (false, false) => starts.push(at),
            (true, true) => ends.push(at),
            _ => {}
        }
        in_word = c != ' ';
    }
    if in_word {
        ends.push(text.len());
    }
    let words = starts.len();
    if words <= WINDOW_WORDS {
        return std::iter::once(0..text.len()).collect();
    }
    let step = WINDOW_WORDS / 2;
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW_WORDS).min(words);
        out.push(starts[start]..ends[end - 1]);
        if end == words {
            break;
        }
        start += step;
    }
    out
}

/// The label of the meaning class a phrasing teaches.
fn phrasing_label(target: &PhrasingTarget) -> String {
    match target {
        PhrasingTarget::Topic(id) => format!("topic:{id}"),
        PhrasingTarget::Flow(id) => format!("flow:{id}"),
        PhrasingTarget::Intent(id) => format!("intent:{id}"),
        PhrasingTarget::OutOfScope => OUT_OF_SCOPE_LABEL.to_owned(),
    }
}

fn example_label(example: &RiskExample) -> String {
    let prefix = if example.danger {
        DANGER_PREFIX
    } else {
        SAFE_PREFIX
    };
    format!("{prefix}{}", example.kind)
}

const OUT_OF_SCOPE_LABEL: &str = "out_of_scope";
const DANGER_PREFIX: &str = "danger:";
const SAFE_PREFIX: &str = "safe:";

/// Hyper-parameters of the risk head, fixed so that `rightsbot embed` is reproducible. The
/// README ("How free text is understood") records how they were chosen: on blind rounds 6 and
/// 7, a light penalty and 150 full-batch Adam steps matched a fully converged fit (lbfgs) on
/// topics and danger alike.
pub const RISK_L2: f32 = 4e-6;
pub const RISK_STEPS: usize = 150;
/// Hyper-parameters of the meaning head. With the learnt messages (thousands more examples
/// than when the risk head's were chosen) a lighter penalty fitted longer lets it be surer of
/// the topics it knows: on blind rounds 36 to 38, before they were learnt, first answers
/// 472 -> 496 of 640, wrong answers 16 -> 17 (README: round 18).
pub const MEANING_L2: f32 = 1e-6;
pub const MEANING_STEPS: usize = 1200;
pub const LEARNING_RATE: f64 = 0.05;

/// The meaning and risk heads, trained on the vectors of `locale`'s phrasings and crisis
/// examples, leaving out what `leave_out` names. The risk head never sees a learnt message.
pub fn train_heads(
    locale: &Locale,
    vectors: &crate::content::Vectors,
    leave_out: &dyn Fn(&str) -> bool,
) -> Heads {
    let examples = meaning_training_set(locale, vectors, leave_out, true);
    let meaning = train_softmax_head(&examples, MEANING_L2, MEANING_STEPS).unwrap_or_default();
    let without_learnt = meaning_training_set(locale, vectors, leave_out, false);
    let risk = train_softmax_head(&without_learnt, RISK_L2, RISK_STEPS).unwrap_or_default();
    Heads { meaning, risk }
}

/// What the meaning head learns from: every phrasing under its topic, flow or intent (or out
/// of scope), every crisis example under its kind of danger or of safe message; the learnt
/// messages too when `with_learnt` (not for the risk reading).
pub fn meaning_training_set(
    locale: &Locale,
    vectors: &crate::content::Vectors,
    leave_out: &dyn Fn(&str) -> bool,
    with_learnt: bool,
) -> Vec<(Vec<f32>, String)> {
    let phrasings = locale
        .phrasings
        .iter()
        .filter(|p| !leave_out(&p.id) && (with_learnt || !p.learnt))
        .filter_map(|p| Some((vectors.widened(&p.text)?, phrasing_label(&p.target))));
    let examples = locale
        .risk_examples
        .iter()
        .filter(|e| !leave_out(&e.id))
        .filter_map(|e| Some((vectors.widened(&e.text)?, example_label(e))));
    phrasings.chain(examples).collect()
}

/// Multinomial logistic regression with an L2 penalty, fitted by full-batch Adam from zero
/// weights: no randomness, so the same examples always give the same head. Classes are
/// sorted by label.
pub fn train_softmax_head(
    examples: &[(Vec<f32>, String)],
    l2: f32,
    steps: usize,
) -> candle_core::Result<SoftmaxHead> {
    use candle_core::{D, DType, Device, Tensor};
    let Some(dims) = examples.first().map(|(v, _)| v.len()) else {
        return Ok(SoftmaxHead::default());
    };
    let classes: Vec<String> = examples
        .iter()
        .map(|(_, l)| l.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let n = examples.len();
    let k = classes.len();
    let device = Device::Cpu;
    let flat: Vec<f32> = examples
        .iter()
        .flat_map(|(v, _)| v.iter().copied())
        .collect();
    let x = Tensor::from_vec(flat, (n, dims), &device)?;
    let xt = x.t()?.contiguous()?;
    let mut onehot = vec![0.0f32; n * k];
    for (i, (_, label)) in examples.iter().enumerate() {
        let c = classes
            .binary_search(label)
            .expect("every label is a class");
        onehot[i * k + c] = 1.0;
    }
    let targets = Tensor::from_vec(onehot, (n, k), &device)?;

    let mut w = Tensor::zeros((dims, k), DType::F32, &device)?;
    let mut b = Tensor::zeros(k, DType::F32, &device)?;
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let mut mw = w.zeros_like()?;
    let mut vw = w.zeros_like()?;
    let mut mb = b.zeros_like()?;
    let mut vb = b.zeros_like()?;
    for step in 1..=steps {
        let logits = x.matmul(&w)?.broadcast_add(&b)?;
        let probabilities = candle_nn::ops::softmax(&logits, D::Minus1)?;
        // The gradient of the mean cross-entropy, plus the penalty's.
        let error = ((probabilities - &targets)? / n as f64)?;
        let grad_w = (xt.matmul(&error)? + (&w * f64::from(2.0 * l2))?)?;
        let grad_b = error.sum(0)?;
        let correction1 = 1.0 - beta1.powi(step as i32);
        let correction2 = 1.0 - beta2.powi(step as i32);
        let adam = |param: &Tensor,
                    m: &mut Tensor,
                    v: &mut Tensor,
                    grad: &Tensor|
         -> candle_core::Result<Tensor> {
            *m = ((&*m * beta1)? + (grad * (1.0 - beta1))?)?;
            *v = ((&*v * beta2)? + (grad.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&*m / correction1)?;
            let v_hat = (&*v / correction2)?;
            param - ((m_hat * LEARNING_RATE)? / (v_hat.sqrt()? + eps)?)?
        };
        w = adam(&w, &mut mw, &mut vw, &grad_w)?;
        b = adam(&b, &mut mb, &mut vb, &grad_b)?;
    }
    Ok(SoftmaxHead {
        classes,
        weights: w.t()?.contiguous()?.flatten_all()?.to_vec1()?,
        bias: b.to_vec1()?,
    })
}

/// Embeds every text of `locale` that needs a vector, trains the meaning head on them, and
/// returns the bytes of `model/vectors.bin`. `progress(done, total)` is called as it goes.
pub fn build_vectors(
    content: &crate::content::Content,
    locale: &Locale,
    previous: Option<&[u8]>,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<u8>, String> {
    use crate::content::semantic as files;
    let model = locale
        .model
        .as_ref()
        .ok_or("this locale has no model/ folder")?;
    let embedder = Embedder::new(&model.weights, &model.tokenizer, &model.config)
        .map_err(|e| e.to_string())?;
    let triggers = content
        .topics
        .values()
        .flat_map(|t| t.triggers.iter())
        .chain(content.flows.values().flat_map(|f| f.triggers.iter()))
        .chain(locale.intents.iter().flat_map(|i| i.triggers.iter()))
        .map(String::as_str);
    let texts = files::texts_to_embed(triggers, &locale.phrasings, &locale.risk_examples);
    let model_hash = files::model_hash(model.weights.bytes());
    // Vectors the same model made before are reused: only new texts are embedded.
    let reusable = previous
        .and_then(|b| files::read_vectors_with_model(b).ok())
        .filter(|(_, made_by, _)| *made_by == model_hash)
        .map(|(_, _, v)| v)
        .unwrap_or_default();
    let new: Vec<&str> = texts
        .iter()
        .map(String::as_str)
        .filter(|t| reusable.get(t).is_none())
        .collect();
    let mut fresh: std::collections::HashMap<&str, Vec<f32>> = std::collections::HashMap::new();
    for batch in new.chunks(32) {
        let vectors = embedder.embed(batch).map_err(|e| e.to_string())?;
        fresh.extend(batch.iter().copied().zip(vectors));
        progress(fresh.len(), new.len());
    }
    let vectors: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| match fresh.remove(t.as_str()) {
            Some(v) => v,
            None => reusable.widened(t).unwrap_or_default(),
        })
        .collect();
    let lessons = files::lessons(&locale.phrasings, &locale.risk_examples);
    let fingerprint = files::fingerprint(model.weights.bytes(), &texts, &lessons);
    // Train on the new vectors: read them back as the bot will.
    let unheaded = files::write_vectors(
        fingerprint.clone(),
        model_hash.clone(),
        &texts,
        &vectors,
        Heads::default(),
    );
    let (_, fresh) = files::read_vectors(&unheaded)?;
    let heads = train_heads(locale, &fresh, &|_| false);
    Ok(files::write_vectors(
        fingerprint,
        model_hash,
        &texts,
        &vectors,
        heads,
    ))
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn a_sentence_running_thoughts_together_with_commas_is_also_read_clause_by_clause() {
        let text = "im so tired of everything, said my goodbyes to my friends on snap, its easier";
        let read = pieces(text);
        assert!(
            read.iter()
                .any(|p| p == "said my goodbyes to my friends on snap"),
            "{read:?}"
        );
        assert_eq!(read[0], text, "the whole message is still read first");
        // A clause too short to mean much alone ("its easier") is not read alone.
        assert!(!read.iter().any(|p| p == "its easier"), "{read:?}");
        // A sentence too long for one window is read through overlapping windows instead.
        let long = format!(
            "{text}, {}",
            "and the nurses keep saying it will get better soon ".repeat(3)
        );
        let read = pieces(&long);
        assert!(
            !read
                .iter()
                .any(|p| p == "said my goodbyes to my friends on snap"),
            "{read:?}"
        );
    }

    #[test]
    fn neighbouring_sentences_are_read_together_only_when_short() {
        let read = pieces("I used to cut. Not any more.");
        assert!(
            read.iter().any(|p| p == "I used to cut Not any more"),
            "{read:?}"
        );
        let long = "my mum rings every night and the staff always say she can only talk for ten \
                    minutes because the phone is needed for other people on the ward at night too";
        let read = pieces(&format!("{long}. Is that allowed?"));
        assert!(read.iter().any(|p| p == long), "{read:?}");
        assert!(read.iter().any(|p| p == "Is that allowed"), "{read:?}");
        assert!(
            !read.iter().any(|p| p.ends_with("too Is that allowed")),
            "a pair longer than a window is read through its sentences: {read:?}"
        );
    }

    #[test]
    fn a_sentence_with_one_comma_is_read_whole_only() {
        let text = "when i get home, can my dog sleep on my bed";
        assert_eq!(pieces(text), vec![text.to_owned()]);
    }
}
