//! The semantic layer: what a message means, beyond its words. A message is read whole and in
//! pieces (each sentence, each pair of sentences, windows of a long unpunctuated one), every
//! piece becomes a sentence vector, and the pieces are compared with
//! - the phrasings of every topic, flow and intent, and the out-of-scope ones: how close the
//!   message comes to each (the best piece counts, so a parent's paragraph is judged by the
//!   sentence that asks);
//! - the crisis classifier (a logistic head trained on labelled danger and safe messages): the
//!   risk of the most worrying piece, so danger buried in a long message is not averaged away;
//! - the danger examples, for the kind of danger (harm by others gets the abuse helplines) and
//!   the id of the nearest one, which traces show instead of any text.
//!
//! It never decides alone: `Matcher` weighs this evidence with the lexical scores.

use super::Doc;
use crate::content::{
    Locale, PhrasingTarget,
    semantic::{Heads, LinearHead},
};
use crate::embedder::{Bank, Embedder};

/// Pieces longer than this many words are cut into overlapping windows.
const WINDOW_WORDS: usize = 32;
/// More pieces than this are not read (a 4,096-character message makes about 60).
const MAX_PIECES: usize = 96;
/// How many nearest danger examples vote on the kind of danger.
const KIND_VOTERS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Doc(usize),
    OutOfScope,
}

struct DangerExample {
    id: String,
    kind: String,
    abuse: bool,
}

pub(super) struct Semantic {
    embedder: Embedder,
    bank: Bank,
    owners: Vec<Owner>,
    ids: Vec<String>,
    heads: Heads,
    danger_bank: Bank,
    danger: Vec<DangerExample>,
    docs: usize,
}

/// What the semantic layer read in one message.
#[derive(Clone, Debug, Default)]
pub(super) struct Reading {
    /// Per document: the best similarity of any piece to any of its phrasings.
    pub doc_scores: Vec<f32>,
    /// Per document: the id of the phrasing that came closest.
    pub nearest: Vec<Option<String>>,
    /// The best similarity to an out-of-scope phrasing.
    pub out_of_scope: f32,
    /// The out-of-scope classifier's probability for the whole message.
    pub scope_risk: f32,
    /// The crisis classifier's probability for the message: the mean of the whole message's
    /// and the most worrying piece's, so one dark sentence in a calm paragraph counts, but
    /// less than a message that is dark throughout.
    pub risk: f32,
    /// The probability for the most worrying piece alone.
    pub peak: f32,
    /// The danger example nearest that piece, its kind, and whether the nearest examples are
    /// mostly about harm by others.
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
        let embedder =
            Embedder::new(model.weights.bytes(), &model.tokenizer, &model.config).ok()?;

        let mut rows: Vec<&[f32]> = Vec::new();
        let mut owners = Vec::new();
        let mut ids = Vec::new();
        for (doc, triggers) in doc_triggers.iter().enumerate() {
            for (n, trigger) in triggers.iter().enumerate() {
                if let Some(v) = vectors.get(trigger) {
                    rows.push(v);
                    owners.push(Owner::Doc(doc));
                    ids.push(format!("{}#trigger{}", doc_name(&docs[doc]), n + 1));
                }
            }
        }
        for phrasing in locale.phrasings.iter().filter(|p| !holdout(&p.id)) {
            let owner = match &phrasing.target {
                PhrasingTarget::OutOfScope => Some(Owner::OutOfScope),
                target => doc_of(target).map(Owner::Doc),
            };
            if let (Some(owner), Some(v)) = (owner, vectors.get(&phrasing.text)) {
                rows.push(v);
                owners.push(owner);
                ids.push(phrasing.id.clone());
            }
        }
        let bank = Bank::new(&rows);

        let mut danger_rows: Vec<&[f32]> = Vec::new();
        let mut danger = Vec::new();
        for example in locale
            .risk_examples
            .iter()
            .filter(|e| e.danger && !holdout(&e.id))
        {
            if let Some(v) = vectors.get(&example.text) {
                danger_rows.push(v);
                danger.push(DangerExample {
                    id: example.id.clone(),
                    kind: example.kind.clone(),
                    abuse: abuse_kinds.contains(&example.kind),
                });
            }
        }
        Some(Self {
            embedder,
            bank,
            owners,
            ids,
            heads: heads.unwrap_or_else(|| Heads {
                risk: vectors.risk_head.clone(),
                scope: vectors.scope_head.clone(),
            }),
            danger_bank: Bank::new(&danger_rows),
            danger,
            docs: docs.len(),
        })
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Reads `text`; `None` if the model failed on it (words alone then decide).
    pub fn read(&self, text: &str) -> Option<Reading> {
        let pieces = pieces(text);
        let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
        let vectors = self.embedder.embed(&refs).ok()?;
        Some(self.read_vectors(&vectors))
    }

    /// The reading of a message from its pieces' vectors.
    pub fn read_vectors(&self, vectors: &[Vec<f32>]) -> Reading {
        let mut reading = Reading {
            doc_scores: vec![0.0; self.docs],
            nearest: vec![None; self.docs],
            ..Reading::default()
        };
        for sims in self.bank.similarities(vectors) {
            for (row, &sim) in sims.iter().enumerate() {
                match self.owners[row] {
                    Owner::Doc(doc) if sim > reading.doc_scores[doc] => {
                        reading.doc_scores[doc] = sim;
                        reading.nearest[doc] = Some(self.ids[row].clone());
                    }
                    Owner::OutOfScope if sim > reading.out_of_scope => reading.out_of_scope = sim,
                    _ => {}
                }
            }
        }
        if let Some(whole) = vectors.first() {
            reading.scope_risk = self.heads.scope.probability(whole);
        }
        let risks: Vec<f32> = vectors
            .iter()
            .map(|v| self.heads.risk.probability(v))
            .collect();
        let Some((worst, &risk)) = risks
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        else {
            return reading;
        };
        reading.peak = risk;
        reading.risk = 0.5 * (risks[0] + risk);
        if !self.danger.is_empty() {
            let sims = self
                .danger_bank
                .similarities(std::slice::from_ref(&vectors[worst]));
            let mut ranked: Vec<(usize, f32)> = sims[0].iter().copied().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(KIND_VOTERS);
            let abuse_votes = ranked.iter().filter(|(i, _)| self.danger[*i].abuse).count();
            let nearest = &self.danger[ranked[0].0];
            reading.danger_nearest = Some(nearest.id.clone());
            reading.danger_kind = Some(nearest.kind.clone());
            reading.abuse = abuse_votes * 2 > ranked.len();
        }
        reading
    }
}

fn doc_name(doc: &Doc) -> String {
    match doc {
        Doc::Target(t) => t.id().to_owned(),
        Doc::Intent(id, _) => format!("intent:{id}"),
    }
}

/// The pieces a message is read in: the whole, each sentence, each pair of neighbouring
/// sentences (so "I used to cut. Not any more." is read together), and overlapping windows of
/// any piece too long to read well at once. Never empty; at most `MAX_PIECES`.
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
                push(format!("{sentence} {next}"));
            }
        }
    } else {
        windows(&sentences.concat()).into_iter().for_each(&mut push);
    }
    if out.is_empty() {
        out.push(text.trim().to_owned());
    }
    out.truncate(MAX_PIECES);
    out
}

/// Sentences, cut at . ! ? ; and line breaks.
fn sentences(text: &str) -> Vec<String> {
    text.split(['.', '!', '?', ';', '\n'])
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect()
}

/// The piece itself if short; else windows of `WINDOW_WORDS` words overlapping by half.
fn windows(piece: &str) -> Vec<String> {
    let words: Vec<&str> = piece.split_whitespace().collect();
    if words.len() <= WINDOW_WORDS {
        return vec![words.join(" ")];
    }
    let step = WINDOW_WORDS / 2;
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + WINDOW_WORDS).min(words.len());
        out.push(words[start..end].join(" "));
        if end == words.len() {
            break;
        }
        start += step;
    }
    out
}

/// Weighted, L2-regularised logistic regression fitted by Newton's method (iteratively
/// reweighted least squares): exact and deterministic, so the same examples always give the
/// same head. `danger_weight` above 1 trades false alarms for recall.
pub fn train_risk_head(
    examples: &[(&[f32], bool)],
    danger_weight: f64,
    l2: f64,
    iterations: usize,
) -> LinearHead {
    let dims = examples.first().map_or(0, |(v, _)| v.len());
    let n = dims + 1;
    let mut w = vec![0.0f64; n];
    let total: f64 = examples
        .iter()
        .map(|(_, d)| if *d { danger_weight } else { 1.0 })
        .sum();
    if total == 0.0 || dims == 0 {
        return LinearHead::default();
    }
    let mut x = vec![0.0f64; n];
    for _ in 0..iterations {
        let mut grad = vec![0.0f64; n];
        let mut hessian = vec![0.0f64; n * n];
        for (v, danger) in examples {
            for (xi, vi) in x.iter_mut().zip(v.iter()) {
                *xi = f64::from(*vi);
            }
            x[dims] = 1.0;
            let z: f64 = w.iter().zip(&x).map(|(a, b)| a * b).sum();
            let p = 1.0 / (1.0 + (-z).exp());
            let weight = if *danger { danger_weight } else { 1.0 };
            let error = (p - f64::from(u8::from(*danger))) * weight;
            let curvature = p * (1.0 - p) * weight;
            for i in 0..n {
                grad[i] += error * x[i];
                let row = curvature * x[i];
                for j in 0..=i {
                    hessian[i * n + j] += row * x[j];
                }
            }
        }
        for i in 0..n {
            grad[i] /= total;
            for j in 0..=i {
                hessian[i * n + j] /= total;
            }
            // The bias is not regularised.
            if i < dims {
                grad[i] += l2 * w[i];
                hessian[i * n + i] += l2;
            } else {
                hessian[i * n + i] += 1e-9;
            }
        }
        let Some(step) = cholesky_solve(&mut hessian, &grad, n) else {
            break;
        };
        let size: f64 = step.iter().map(|s| s * s).sum::<f64>().sqrt();
        for (wi, si) in w.iter_mut().zip(&step) {
            *wi -= si;
        }
        if size < 1e-7 {
            break;
        }
    }
    LinearHead {
        weights: w[..dims].iter().map(|&x| x as f32).collect(),
        bias: w[dims] as f32,
    }
}

/// Solves `a x = b` for a symmetric positive-definite `a` given by its lower triangle
/// (row-major, n x n; overwritten by its Cholesky factor). `None` if `a` is not positive
/// definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| a[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / a[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| a[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / a[i * n + i];
    }
    Some(x)
}

/// Hyper-parameters of the risk head, fixed so that `rightsbot embed` is reproducible. The
/// README ("How free text is understood") records how they were chosen.
pub const DANGER_WEIGHT: f64 = 2.0;
pub const L2: f64 = 1e-3;
pub const NEWTON_STEPS: usize = 25;
/// The out-of-scope head: out-of-scope phrasings are few beside the topics', so they weigh
/// more, and a light penalty lets it use the fine distinctions between near neighbours.
pub const OUT_OF_SCOPE_WEIGHT: f64 = 3.0;
pub const SCOPE_L2: f64 = 1e-4;

/// Both heads, trained on the vectors of `locale`'s examples and phrasings, leaving out what
/// `leave_out` names.
pub fn train_heads(
    locale: &Locale,
    vectors: &crate::content::Vectors,
    leave_out: &dyn Fn(&str) -> bool,
) -> Heads {
    let risk = risk_training_set(locale, vectors, leave_out);
    let scope = scope_training_set(locale, vectors, leave_out);
    Heads {
        risk: train_risk_head(&risk, DANGER_WEIGHT, L2, NEWTON_STEPS),
        scope: train_risk_head(&scope, OUT_OF_SCOPE_WEIGHT, SCOPE_L2, NEWTON_STEPS),
    }
}

/// What the out-of-scope head learns from: out-of-scope phrasings against the topics' and
/// flows' (smalltalk and help are told apart by their own phrasings).
pub fn scope_training_set<'a>(
    locale: &'a Locale,
    vectors: &'a crate::content::Vectors,
    leave_out: &dyn Fn(&str) -> bool,
) -> Vec<(&'a [f32], bool)> {
    locale
        .phrasings
        .iter()
        .filter(|p| !leave_out(&p.id))
        .filter_map(|p| {
            let out = match p.target {
                PhrasingTarget::OutOfScope => true,
                PhrasingTarget::Topic(_) | PhrasingTarget::Flow(_) => false,
                PhrasingTarget::Intent(_) => return None,
            };
            Some((vectors.get(&p.text)?, out))
        })
        .collect()
}

/// What the risk head learns from: danger examples against safe ones and every ordinary
/// phrasing (a rights question is not a crisis), leaving out what `leave_out` names.
pub fn risk_training_set<'a>(
    locale: &'a Locale,
    vectors: &'a crate::content::Vectors,
    leave_out: &dyn Fn(&str) -> bool,
) -> Vec<(&'a [f32], bool)> {
    let examples = locale
        .risk_examples
        .iter()
        .filter(|e| !leave_out(&e.id))
        .filter_map(|e| Some((vectors.get(&e.text)?, e.danger)));
    let phrasings = locale
        .phrasings
        .iter()
        .filter(|p| !leave_out(&p.id))
        .filter_map(|p| Some((vectors.get(&p.text)?, false)));
    examples.chain(phrasings).collect()
}

/// Embeds every text of `locale` that needs a vector, trains the risk head on them, and
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
    let embedder = Embedder::new(model.weights.bytes(), &model.tokenizer, &model.config)
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
            None => reusable.get(t).map(<[f32]>::to_vec).unwrap_or_default(),
        })
        .collect();
    let fingerprint = files::fingerprint(model.weights.bytes(), &texts);
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
