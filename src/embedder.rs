//! Sentence vectors from the shipped sentence-embedding model (all-MiniLM-L6-v2, in
//! `locales/en/model/`): text in, unit vector out. It knows nothing of topics, crisis or
//! conversations; the matcher decides what the vectors mean.
//!
//! The model runs in process with candle on the CPU; nothing is downloaded. It follows
//! sentence-transformers exactly, so vectors match the published model's: WordPiece tokens
//! (truncated at 256), BERT, the mean of the token vectors under the attention mask, then L2
//! normalisation. `tests/it/semantic.rs` checks the output against vectors computed by an
//! independent numpy implementation from the upstream weights.
//!
//! Pure computation: no I/O (the bytes come from the content), no state between calls.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::Tokenizer;

/// Length of every vector.
pub const DIMENSIONS: usize = 384;
/// sentence-transformers' `max_seq_length` for this model; longer texts are cut, so callers
/// that must read a long message whole split it first.
pub const MAX_TOKENS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum EmbedderError {
    #[error("the model's config.json: {0}")]
    Config(#[from] serde_json::Error),
    #[error("the model's tokenizer.json: {0}")]
    Tokenizer(String),
    #[error("the model's weights: {0}")]
    Model(#[from] candle_core::Error),
}

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    /// Loads the model from the bytes of its files; the f16 weights are widened to f32.
    pub fn new(
        weights: &[u8],
        tokenizer_json: &str,
        config_json: &str,
    ) -> Result<Self, EmbedderError> {
        let config: Config = serde_json::from_str(config_json)?;
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json.as_bytes())
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        // The shipped tokenizer.json pads every text to 128 tokens; a batch is padded here to
        // its longest text instead, and the mask keeps padding out of the mean.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_slice_safetensors(weights, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// One unit vector per text, in order. Texts of like length share a padded forward pass;
    /// a text under half the length of the longest in its pass gets a pass of its own kind, so
    /// a message's short clauses are not padded to the length of the whole message (that
    /// padding was most of the time a long message took). An empty text gets the vector of
    /// the empty sentence, like any other.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedderError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedderError::Tokenizer(e.to_string()))?;
        let mut by_length: Vec<usize> = (0..encodings.len()).collect();
        by_length.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));
        let mut vectors: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        let mut rest = by_length.as_slice();
        while let Some(&first) = rest.first() {
            let longest = encodings[first].get_ids().len();
            let alike = rest
                .iter()
                .take_while(|&&i| encodings[i].get_ids().len() * 2 >= longest)
                .count();
            let (pass, after) = rest.split_at(alike);
            let ids: Vec<&[u32]> = pass.iter().map(|&i| encodings[i].get_ids()).collect();
            for (&i, vector) in pass.iter().zip(self.forward(&ids, longest)?) {
                vectors[i] = vector;
            }
            rest = after;
        }
        Ok(vectors)
    }

    /// Unit vectors of token sequences no longer than `longest`, in one padded pass.
    fn forward(
        &self,
        sequences: &[&[u32]],
        longest: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedderError> {
        let mut ids = Vec::with_capacity(sequences.len() * longest);
        let mut mask = Vec::with_capacity(sequences.len() * longest);
        for own in sequences {
            ids.extend(own.iter().copied());
            ids.extend(std::iter::repeat_n(0, longest - own.len()));
            mask.extend(std::iter::repeat_n(1u32, own.len()));
            mask.extend(std::iter::repeat_n(0, longest - own.len()));
        }
        let shape = (sequences.len(), longest);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let unit = mean.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// Cosine similarity of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A fixed set of unit vectors to compare queries with, as one matrix, so that a message's
/// similarity to thousands of phrasings is one matrix product.
pub struct Bank {
    matrix: Option<Tensor>,
    len: usize,
}

impl Bank {
    pub fn new(vectors: &[&[f32]]) -> Self {
        let len = vectors.len();
        let flat: Vec<f32> = vectors.iter().flat_map(|v| v.iter().copied()).collect();
        let matrix = (len > 0)
            .then(|| Tensor::from_vec(flat, (len, DIMENSIONS), &Device::Cpu).ok())
            .flatten()
            .and_then(|m| m.t().ok()?.contiguous().ok());
        Self { matrix, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// For each query, its similarity to every vector of the bank, in bank order.
    pub fn similarities(&self, queries: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let fallback = || {
            queries
                .iter()
                .map(|_| vec![0.0; self.len])
                .collect::<Vec<_>>()
        };
        let (Some(matrix), false) = (&self.matrix, queries.is_empty()) else {
            return fallback();
        };
        let flat: Vec<f32> = queries.iter().flat_map(|q| q.iter().copied()).collect();
        let product = Tensor::from_vec(flat, (queries.len(), DIMENSIONS), &Device::Cpu)
            .and_then(|q| q.matmul(matrix))
            .and_then(|p| p.to_vec2::<f32>());
        product.unwrap_or_else(|_| fallback())
    }
}
