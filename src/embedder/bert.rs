//! BERT's encoder layers, as in `candle_transformers::models::bert` (candle 0.11.1, MIT or
//! Apache-2.0, by the Hugging Face candle authors) but for two things. The feed-forward
//! activation: candle computes GELU with a scalar `erff` from libm per element, a tenth of the
//! model's time on this machine; here it is one pass of a branch-free rational approximation
//! of erf that the compiler vectorises (`gelu`). And the batch is packed: the tokens of every
//! text lie one after another with no padding, and only attention sets each group of texts of
//! like length side by side, padded (`AttentionGroup`), where candle pads every text of a batch
//! to the longest for every layer. Everything else (the weights' names, the order of
//! operations, f32 throughout) is candle's, so a vector differs from candle's by no more than
//! the approximation's error (`tests/it/semantic.rs` checks the vectors against an independent
//! reference). Inference only: no dropout, no tracing spans. Used under the Apache License 2.0,
//! whose text ships in `locales/en/model/LICENSE`; the changes are those named here.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, D, Device, Layout, Module, Result, Shape, Tensor};
use candle_nn::{LayerNorm, Linear, VarBuilder};
use candle_transformers::models::bert::Config;

pub struct Encoder {
    layers: Vec<Layer>,
}

impl Encoder {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let layers = (0..config.num_hidden_layers)
            .map(|index| Layer::load(vb.pp(format!("layer.{index}")), config))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// The token vectors of a packed batch: every sequence's tokens one after another, no
    /// padding, shape (tokens, hidden). The linear layers, the norms and GELU read each token
    /// on its own, so they run once over all of them; only attention, which mixes a sequence's
    /// tokens, sets them side by side, padded, group by group (`AttentionGroup`).
    pub fn forward(&self, hidden: &Tensor, groups: &[AttentionGroup]) -> Result<Tensor> {
        let mut hidden = hidden.clone();
        for layer in &self.layers {
            hidden = layer.forward(&hidden, groups)?;
        }
        Ok(hidden)
    }
}

/// Sequences of like length whose rows lie together in a packed batch, as attention reads
/// them: side by side, each padded to the longest. A padding slot reads the group's first row,
/// which the mask keeps out of every token's attention, so it changes nothing.
pub struct AttentionGroup {
    /// For each slot (sequences x longest), the packed row it reads.
    gather: Tensor,
    /// For each of the group's packed rows, in order, its slot.
    scatter: Tensor,
    /// Added to the attention scores: 0 for a token, a large negative number for padding,
    /// shape (sequences, 1, 1, longest).
    mask: Tensor,
    sequences: usize,
    longest: usize,
}

impl AttentionGroup {
    /// A group of sequences of these lengths whose rows start at packed row `first_row`.
    pub fn new(first_row: usize, lengths: &[usize], device: &Device) -> Result<Self> {
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let mut gather = Vec::with_capacity(lengths.len() * longest);
        let mut scatter = Vec::new();
        let mut mask = Vec::with_capacity(lengths.len() * longest);
        let mut row = first_row;
        for (sequence, &length) in lengths.iter().enumerate() {
            for slot in 0..longest {
                let real = slot < length;
                gather.push(if real { row + slot } else { first_row } as u32);
                mask.push(if real { 0.0 } else { f32::MIN });
                if real {
                    scatter.push((sequence * longest + slot) as u32);
                }
            }
            row += length;
        }
        let sequences = lengths.len();
        Ok(Self {
            gather: Tensor::from_vec(gather, sequences * longest, device)?,
            scatter: Tensor::from_vec(scatter, row - first_row, device)?,
            mask: Tensor::from_vec(mask, (sequences, 1, 1, longest), device)?,
            sequences,
            longest,
        })
    }
}

struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    heads: usize,
    head_size: usize,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl Layer {
    fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let hidden = config.hidden_size;
        let attention = vb.pp("attention");
        let own = attention.pp("self");
        let norm = |vb: VarBuilder| candle_nn::layer_norm(hidden, config.layer_norm_eps, vb);
        Ok(Self {
            query: candle_nn::linear(hidden, hidden, own.pp("query"))?,
            key: candle_nn::linear(hidden, hidden, own.pp("key"))?,
            value: candle_nn::linear(hidden, hidden, own.pp("value"))?,
            heads: config.num_attention_heads,
            head_size: hidden / config.num_attention_heads,
            attention_out: candle_nn::linear(hidden, hidden, attention.pp("output").pp("dense"))?,
            attention_norm: norm(attention.pp("output").pp("LayerNorm"))?,
            intermediate: candle_nn::linear(
                hidden,
                config.intermediate_size,
                vb.pp("intermediate").pp("dense"),
            )?,
            output: candle_nn::linear(
                config.intermediate_size,
                hidden,
                vb.pp("output").pp("dense"),
            )?,
            output_norm: norm(vb.pp("output").pp("LayerNorm"))?,
        })
    }

    fn forward(&self, hidden: &Tensor, groups: &[AttentionGroup]) -> Result<Tensor> {
        let attended = self.attention(hidden, groups)?;
        let attended = self
            .attention_norm
            .forward(&(self.attention_out.forward(&attended)? + hidden)?)?;
        let inner = self
            .intermediate
            .forward(&attended)?
            .apply_op1_no_bwd(&Gelu)?;
        self.output_norm
            .forward(&(self.output.forward(&inner)? + attended)?)
    }

    /// Self-attention over packed rows, group by group; the groups' rows come back in the
    /// order they went in, which is the packed order.
    fn attention(&self, hidden: &Tensor, groups: &[AttentionGroup]) -> Result<Tensor> {
        let query = self.query.forward(hidden)?;
        let key = self.key.forward(hidden)?;
        let value = self.value.forward(hidden)?;
        let hidden_size = self.heads * self.head_size;
        let mut attended = Vec::with_capacity(groups.len());
        for group in groups {
            let by_head = |rows: &Tensor| -> Result<Tensor> {
                rows.index_select(&group.gather, 0)?
                    .reshape((group.sequences, group.longest, self.heads, self.head_size))?
                    .transpose(1, 2)?
                    .contiguous()
            };
            let (query, key, value) = (by_head(&query)?, by_head(&key)?, by_head(&value)?);
            let scores = (query.matmul(&key.t()?)? / (self.head_size as f64).sqrt())?
                .broadcast_add(&group.mask)?;
            let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
            attended.push(
                weights
                    .matmul(&value)?
                    .transpose(1, 2)?
                    .contiguous()?
                    .reshape((group.sequences * group.longest, hidden_size))?
                    .index_select(&group.scatter, 0)?,
            );
        }
        Tensor::cat(&attended, 0)
    }
}

/// GELU as BERT defines it, x/2 (1 + erf(x/√2)), in one pass over contiguous f32.
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-rational-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(values), Some((start, end))) = (storage, layout.contiguous_offsets())
        else {
            return Err(candle_core::Error::Msg(format!(
                "gelu takes contiguous f32, not {:?}",
                storage.dtype()
            )));
        };
        let out: Vec<f32> = values[start..end].iter().map(|&x| gelu(x)).collect();
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// erf as a ratio of two odd and even polynomials on [-4, 4] (erf is 1 to f32 precision
/// beyond): the approximation Eigen and XLA use for f32, within 5e-7 of the true value in f32
/// arithmetic. No branch and no call, so a slice of them is vectorised. Plain multiply and
/// add, not `mul_add`: built for any x86-64, `mul_add` is a call to a software fma.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rational_erf_is_within_half_a_millionth_of_candles() {
        let worst = (-60_000..=60_000)
            .map(|i| i as f32 / 10_000.0)
            .map(|x| (erf(x) - candle_core::cpu::erf::erf_f32(x)).abs())
            .fold(0.0_f32, f32::max);
        assert!(worst < 5e-7, "worst error {worst}");
        assert_eq!(erf(0.0), 0.0);
        assert!((erf(1.0) - 0.842_700_8).abs() < 1e-6);
    }

    #[test]
    fn gelu_of_a_tensor_is_gelu_of_each_value_whatever_the_layout() {
        let device = candle_core::Device::Cpu;
        let xs = Tensor::arange(-40.0_f32, 40.0, &device)
            .unwrap()
            .affine(0.1, 0.0)
            .unwrap()
            .reshape((8, 10))
            .unwrap();
        let by_candle: Vec<f32> = xs
            .gelu_erf()
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let ours: Vec<f32> = xs
            .apply_op1_no_bwd(&Gelu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in by_candle.iter().zip(&ours) {
            assert!((a - b).abs() < 1e-6, "{a} against {b}");
        }
        // A transposed view is not contiguous: an error, never a wrong answer.
        assert!(xs.t().unwrap().apply_op1_no_bwd(&Gelu).is_err());
    }
}
