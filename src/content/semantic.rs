//! What the semantic layer learns from: the phrasings of each topic, flow and intent
//! (`locales/<lang>/phrasings/*.txt`), the labelled crisis examples (`locales/<lang>/risk/`),
//! the sentence-embedding model (`locales/<lang>/model/`), and the precomputed vectors of all
//! of those texts with the meaning classifier trained on them (`model/vectors.bin`).
//!
//! The vectors are derived data: `rightsbot embed` rebuilds them, and the checker refuses a
//! vectors file built for other texts or another model, saying how to rebuild it. This module
//! reads and writes that file; it never runs the model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::{FlowId, IntentId, TopicId};

/// The stem of the phrasings file for messages the bot must not answer with a topic.
pub const OUT_OF_SCOPE_FILE: &str = "_out_of_scope";
/// The stem of the phrasings file for "what can you do": the help intent(s).
pub const HELP_FILE: &str = "_help";
/// The stem of the phrasings file for smalltalk, each line `intent<TAB>text`.
pub const SMALLTALK_FILE: &str = "_smalltalk";
/// A topic or flow needs this many phrasings once a locale has phrasings at all: fewer cannot
/// teach the model the many ways people ask.
pub const MIN_PHRASINGS: usize = 40;
pub const VECTORS_PATH: &str = "model/vectors.bin";
const VECTORS_MAGIC: &[u8] = b"RIGHTSBOT-VECTORS 1\n";

/// Bytes of a binary content file: borrowed from the binary, or read from a folder.
#[derive(Clone)]
pub enum Blob {
    Static(&'static [u8]),
    Owned(Arc<[u8]>),
}

impl Blob {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Blob::Static(b) => b,
            Blob::Owned(b) => b,
        }
    }
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.bytes().len())
    }
}

/// What a phrasing teaches the matcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhrasingTarget {
    Topic(TopicId),
    Flow(FlowId),
    Intent(IntentId),
    OutOfScope,
}

#[derive(Clone, Debug)]
pub struct Phrasing {
    /// `file-stem:line`, e.g. `visiting:12`, or `learnt/visiting:12`: what a trace names
    /// instead of the text.
    pub id: String,
    pub target: PhrasingTarget,
    pub text: String,
    /// A message people wrote, learnt from an evaluation set after its first score
    /// (`locales/<lang>/learnt/`): it teaches which question a message asks, never the reading
    /// of risk.
    pub learnt: bool,
}

/// A labelled message for the crisis classifier.
#[derive(Clone, Debug)]
pub struct RiskExample {
    /// `danger/means:7` or `safe/venting:3`.
    pub id: String,
    pub danger: bool,
    /// The file stem: `means`, `harm_by_staff`, `dark_humour`...
    pub kind: String,
    pub text: String,
}

/// A softmax classifier over sentence vectors: for each class, `exp(w_c . v + b_c)`
/// normalised over all classes. Its classes are the meanings a message can have: every topic,
/// flow and intent, out of scope, each kind of danger and each kind of safe-but-emotional
/// message (see `matcher::semantic` for the labels).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxHead {
    pub classes: Vec<String>,
    /// One row of `dimensions` weights per class, in the order of `classes`.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl SoftmaxHead {
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// The probability of each class for `vector`, in the order of `classes`.
    pub fn probabilities(&self, vector: &[f32]) -> Vec<f32> {
        let dims = vector.len();
        if self.classes.is_empty() || self.weights.len() != self.classes.len() * dims {
            return vec![0.0; self.classes.len()];
        }
        let logits: Vec<f32> = self
            .weights
            .chunks_exact(dims)
            .zip(&self.bias)
            .map(|(row, b)| b + crate::embedder::dot(row, vector))
            .collect();
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = logits.iter().map(|z| (z - top).exp()).collect();
        let total: f32 = exps.iter().sum();
        exps.into_iter().map(|e| e / total).collect()
    }
}

/// The model's files, as loaded.
#[derive(Clone, Debug)]
pub struct ModelFiles {
    pub weights: Blob,
    pub tokenizer: String,
    pub config: String,
}

/// The classifier `rightsbot embed` fits over the vectors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Heads {
    /// What a message means: which topic, flow or intent it asks about, whether it is out of
    /// scope, and whether it says danger now. One classifier for all of these, so that "a bed
    /// has come up nearer home, do I get a say" is weighed as a question about moving
    /// hospital against danger, not against safe messages alone.
    pub meaning: SoftmaxHead,
    /// The same classifier fitted without the learnt messages, for the risk of danger alone:
    /// thousands of real rights questions pull a paragraph with danger buried in it towards
    /// its question (README, round 17), and the risk reading is measured without them.
    pub risk: SoftmaxHead,
}

/// Precomputed unit vectors of every text the semantic layer knows, and the trained heads.
/// The vectors stay in the f16 they are stored in: widened whole they were the largest thing
/// `serve` held while starting (58 MB), and what reads them either keeps f16 (`Bank`) or
/// widens one vector at a time.
#[derive(Clone, Debug, Default)]
pub struct Vectors {
    pub dimensions: usize,
    by_text: HashMap<String, usize>,
    data: Vec<half::f16>,
    pub meaning_head: SoftmaxHead,
    pub risk_head: SoftmaxHead,
}

impl Vectors {
    pub fn get(&self, text: &str) -> Option<&[half::f16]> {
        let i = *self.by_text.get(text)?;
        Some(&self.data[i * self.dimensions..(i + 1) * self.dimensions])
    }

    /// The vector of `text` in f32.
    pub fn widened(&self, text: &str) -> Option<Vec<f32>> {
        Some(self.get(text)?.iter().map(|x| x.to_f32()).collect())
    }

    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    fingerprint: String,
    /// BLAKE3 of the model's weights: vectors made by the same model can be reused.
    #[serde(default)]
    model: String,
    dimensions: usize,
    texts: Vec<String>,
    #[serde(default)]
    meaning_head: SoftmaxHead,
    #[serde(default)]
    risk_head: SoftmaxHead,
}

/// A fingerprint of the model and the texts: a vectors file is fresh when it carries the
/// fingerprint of today's model and texts.
pub fn model_hash(weights: &[u8]) -> String {
    blake3::hash(weights).to_hex().to_string()
}

/// `lessons` says what each text teaches the classifier: the heads are fresh only if no text
/// moved to another topic, or in or out of the learnt messages.
pub fn fingerprint(weights: &[u8], texts: &BTreeSet<String>, lessons: &BTreeSet<String>) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(weights);
    for text in texts {
        hasher.update(text.as_bytes());
        hasher.update(&[0]);
    }
    hasher.update(&[1]);
    for lesson in lessons {
        hasher.update(lesson.as_bytes());
        hasher.update(&[0]);
    }
    hasher.finalize().to_hex().to_string()
}

/// Each phrasing's and example's label beside its text, learnt ones marked: what the heads
/// are trained on, for the fingerprint.
pub fn lessons(phrasings: &[Phrasing], risk: &[RiskExample]) -> BTreeSet<String> {
    let phrasings = phrasings.iter().map(|p| {
        let label = match &p.target {
            PhrasingTarget::Topic(id) => format!("topic {id}"),
            PhrasingTarget::Flow(id) => format!("flow {id}"),
            PhrasingTarget::Intent(id) => format!("intent {id}"),
            PhrasingTarget::OutOfScope => OUT_OF_SCOPE_FILE.to_owned(),
        };
        let learnt = if p.learnt { "learnt " } else { "" };
        format!("{learnt}{label}\t{}", p.text)
    });
    let examples = risk.iter().map(|r| {
        let label = if r.danger { "danger" } else { "safe" };
        format!("{label} {}\t{}", r.kind, r.text)
    });
    phrasings.chain(examples).collect()
}

/// The vectors file for `texts` (sorted, as a set) with their vectors in the same order.
pub fn write_vectors(
    fingerprint: String,
    model: String,
    texts: &BTreeSet<String>,
    vectors: &[Vec<f32>],
    heads: Heads,
) -> Vec<u8> {
    let dimensions = vectors.first().map_or(0, Vec::len);
    let header = Header {
        fingerprint,
        model,
        dimensions,
        texts: texts.iter().cloned().collect(),
        meaning_head: heads.meaning,
        risk_head: heads.risk,
    };
    let mut out = VECTORS_MAGIC.to_vec();
    out.extend(serde_json::to_vec(&header).expect("a header always serialises"));
    out.push(b'\n');
    for v in vectors {
        for x in v {
            out.extend(half::f16::from_f32(*x).to_le_bytes());
        }
    }
    out
}

/// Reads a vectors file; `Err` says what is wrong with it.
pub fn read_vectors(bytes: &[u8]) -> Result<(String, Vectors), String> {
    read_vectors_with_model(bytes).map(|(fingerprint, _, vectors)| (fingerprint, vectors))
}

/// Reads a vectors file with the hash of the model that made it.
pub fn read_vectors_with_model(bytes: &[u8]) -> Result<(String, String, Vectors), String> {
    let rest = bytes
        .strip_prefix(VECTORS_MAGIC)
        .ok_or("not a vectors file (it does not start with RIGHTSBOT-VECTORS 1)")?;
    let end = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("the header line has no end")?;
    let header: Header =
        serde_json::from_slice(&rest[..end]).map_err(|e| format!("unreadable header: {e}"))?;
    let body = &rest[end + 1..];
    let expected = header.texts.len() * header.dimensions * 2;
    if body.len() != expected {
        return Err(format!(
            "holds {} bytes of vectors where {} texts of {} dimensions need {expected}",
            body.len(),
            header.texts.len(),
            header.dimensions
        ));
    }
    let data = body
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]))
        .collect();
    let by_text = header
        .texts
        .into_iter()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    Ok((
        header.fingerprint,
        header.model,
        Vectors {
            dimensions: header.dimensions,
            by_text,
            data,
            meaning_head: header.meaning_head,
            risk_head: header.risk_head,
        },
    ))
}

/// Lines of a phrasings or examples file that carry a text: `(line number, text)`.
pub fn text_lines(file: &str) -> impl Iterator<Item = (usize, &str)> {
    file.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Every text of a locale that needs a vector: phrasings, topic, flow and intent triggers, and
/// crisis examples. `rightsbot embed` embeds exactly these.
pub fn texts_to_embed<'a>(
    triggers: impl Iterator<Item = &'a str>,
    phrasings: &[Phrasing],
    risk: &[RiskExample],
) -> BTreeSet<String> {
    triggers
        .map(str::to_owned)
        .chain(phrasings.iter().map(|p| p.text.clone()))
        .chain(risk.iter().map(|r| r.text.clone()))
        .collect()
}

/// How fresh a vectors file is against the texts it should hold.
pub fn staleness(vectors: &Vectors, texts: &BTreeSet<String>) -> (usize, usize) {
    let missing = texts.iter().filter(|t| vectors.get(t).is_none()).count();
    let extra = vectors.len() + missing - texts.len();
    (missing, extra)
}

/// Smalltalk phrasings name their intent: `greeting<TAB>hiya`.
pub fn split_intent(line: &str) -> Option<(&str, &str)> {
    let (intent, text) = line.split_once('\t')?;
    Some((intent.trim(), text.trim()))
}

/// Phrasings written for each target (learnt messages aside), for the checker's minimum.
pub fn counts(phrasings: &[Phrasing]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for p in phrasings.iter().filter(|p| !p.learnt) {
        let key = match &p.target {
            PhrasingTarget::Topic(id) => id.as_str().to_owned(),
            PhrasingTarget::Flow(id) => id.as_str().to_owned(),
            PhrasingTarget::Intent(id) => format!("intent {id}"),
            PhrasingTarget::OutOfScope => OUT_OF_SCOPE_FILE.to_owned(),
        };
        *out.entry(key).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrasing(topic: &str, text: &str, learnt: bool) -> Phrasing {
        Phrasing {
            id: format!("{topic}:1"),
            target: PhrasingTarget::Topic(TopicId::parse(topic).expect("a topic id")),
            text: text.to_owned(),
            learnt,
        }
    }

    #[test]
    fn vectors_go_stale_when_a_text_moves_topic_or_is_learnt_instead_of_written() {
        let text = "can they cancel my leave";
        let texts: BTreeSet<String> = [text.to_owned()].into();
        let weights = b"model";
        let as_leave = lessons(&[phrasing("leave", text, false)], &[]);
        let as_visiting = lessons(&[phrasing("visiting", text, false)], &[]);
        let as_learnt = lessons(&[phrasing("leave", text, true)], &[]);
        let of = |lessons: &BTreeSet<String>| fingerprint(weights, &texts, lessons);
        assert_ne!(of(&as_leave), of(&as_visiting));
        assert_ne!(of(&as_leave), of(&as_learnt));
        assert_eq!(
            of(&as_leave),
            of(&lessons(&[phrasing("leave", text, false)], &[]))
        );
    }

    #[test]
    fn learnt_messages_do_not_count_towards_a_topics_written_phrasings() {
        let written = phrasing("leave", "when do i get leave", false);
        let learnt = phrasing("leave", "how do i get section 17 leave", true);
        assert_eq!(counts(&[written, learnt]).get("leave"), Some(&1));
    }
}
