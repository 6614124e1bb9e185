//! The optimizer of `optimizer.kind = "muon"`: Muon on the matrices inside the blocks, AdamW on
//! everything else ([`ParamGroup`]), each group at its own learning rate.
//!
//! Burn's `OptimizerAdaptor` hands a `SimpleOptimizer` neither the parameter's name nor its id, so
//! this walks the model itself, as the adaptor does (burn-optim `simple/adaptor.rs`), with a
//! `ModuleMapper` that also follows the module path: each parameter's group comes from its path
//! and rank, the same [`ParamGroup::of`] that the tests apply to `named_params`. The AdamW
//! groups go through [`GroupedAdamW`] (the fused update of `kind = "adamw"`), their state in the
//! adaptor's own record type; Muon's state is its momentum buffer.

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, LearningRate, Optimizer, SimpleOptimizer};
use burn::optim::record::AdaptorRecord;
use burn::tensor::Tensor;
use burngpt_ops::FusedAutodiffBackend;

use super::muon::Muon;
use super::optim::{GroupedAdamW, OptimizerConfig};
use super::param_groups::{GroupRates, ParamGroup};
use crate::model::Gpt;

/// The states of one optimizer by parameter: the record type of Burn's adaptor (a hashbrown
/// map keyed by `ParamId`), so the AdamW part is saved exactly as `kind = "adamw"` saves it.
pub type States<O, B> = <OptimizerAdaptor<O, Gpt<B>, B> as Optimizer<Gpt<B>, B>>::Record;

/// The saved state: AdamW's moments, then Muon's momentum buffers, each keyed by `ParamId`.
pub type MuonAdamWRecord<B> = (States<GroupedAdamW, B>, States<Muon, B>);

/// Muon for the hidden matrices, AdamW for the rest.
#[derive(Clone)]
pub struct MuonAdamW<B: FusedAutodiffBackend> {
    muon: Muon,
    adamw: GroupedAdamW,
    rates: GroupRates,
    adamw_states: States<GroupedAdamW, B>,
    muon_states: States<Muon, B>,
}

impl<B: FusedAutodiffBackend> MuonAdamW<B> {
    /// Both optimizers from `settings` (`muon_*` for Muon; `lr`, betas, `eps`, `weight_decay`,
    /// `decay_all` for AdamW), with no state yet.
    pub fn new(settings: &OptimizerConfig) -> Self {
        Self {
            muon: Muon {
                momentum: settings.muon_momentum,
                nesterov: settings.muon_nesterov,
                ns_steps: settings.muon_ns_steps,
                weight_decay: settings.muon_weight_decay,
            },
            adamw: GroupedAdamW::new(settings),
            rates: GroupRates::new(settings),
            adamw_states: Default::default(),
            muon_states: Default::default(),
        }
    }

    /// Updates every parameter that has a gradient; `lr` is the schedule's rate (that of the
    /// `optimizer.lr` group), the other groups' follow in proportion.
    pub fn step(&mut self, lr: LearningRate, model: Gpt<B>, mut grads: GradientsParams) -> Gpt<B> {
        let mut mapper = GroupMapper { optim: self, grads: &mut grads, lr, path: Vec::new() };
        model.map(&mut mapper)
    }

    /// The state, to save.
    pub fn to_record(&self) -> MuonAdamWRecord<B> {
        (self.adamw_states.clone(), self.muon_states.clone())
    }

    /// The state saved by [`MuonAdamW::to_record`].
    pub fn load_record(&mut self, (adamw, muon): MuonAdamWRecord<B>) {
        (self.adamw_states, self.muon_states) = (adamw, muon);
    }
}

/// One parameter's step with `optim`, its state taken out of `states` and put back.
fn step_one<B, O, const D: usize>(
    optim: &O,
    states: &mut States<O, B>,
    (id, lr): (ParamId, LearningRate),
    tensor: Tensor<B::InnerBackend, D>,
    grad: Tensor<B::InnerBackend, D>,
) -> Tensor<B::InnerBackend, D>
where
    B: FusedAutodiffBackend,
    O: SimpleOptimizer<B::InnerBackend>,
{
    let device = grad.device();
    let state = states.remove(&id).map(|record| O::to_device(record.into_state(), &device));
    let (tensor, state) = optim.step(lr, tensor, grad, state);
    if let Some(state) = state {
        states.insert(id, AdaptorRecord::from_state(state));
    }
    tensor
}

/// Walks the model like Burn's `SimpleOptimizerMapper`, knowing each parameter's path.
struct GroupMapper<'a, B: FusedAutodiffBackend> {
    optim: &'a mut MuonAdamW<B>,
    grads: &'a mut GradientsParams,
    lr: LearningRate,
    /// The module names from the model down to the current parameter.
    path: Vec<String>,
}

impl<B: FusedAutodiffBackend> ModuleMapper<B> for GroupMapper<'_, B> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<B::InnerBackend, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let is_require_grad = tensor.is_require_grad();
        let device = grad.device();
        let tensor = if tensor.device() != device { tensor.to_device(&device) } else { tensor };
        let group = ParamGroup::of(&self.path.join("."), D);
        let lr = self.optim.rates.lr(group, self.lr);
        let o = &mut *self.optim;
        let inner = if group.is_muon() {
            step_one::<B, _, D>(&o.muon, &mut o.muon_states, (id, lr), tensor.inner(), grad)
        } else {
            step_one::<B, _, D>(&o.adamw, &mut o.adamw_states, (id, lr), tensor.inner(), grad)
        };
        let mut tensor = Tensor::from_inner(inner);
        if is_require_grad {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::optim::{GradientsParams, SimpleOptimizer};
    use burn::tensor::{Int, Tensor, TensorData};

    use crate::train::loss::cross_entropy;
    use crate::train::muon::Muon;
    use crate::train::optim::{GroupedAdamW, OptimizerConfig, OptimizerKind};
    use crate::train::param_groups::ParamGroup;
    use super::MuonAdamW;
    use crate::model::{named_params, named_values, GeluKind, GptConfig, MlpKind, NormKind, ParamInfo, PositionKind};

    type NB = NdArray<f32>;
    type AB = Autodiff<NB>;

    fn settings() -> OptimizerConfig {
        OptimizerConfig {
            kind: OptimizerKind::Muon,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
            decay_all: false,
            grad_clip: 0.0,
            muon_lr: 0.02,
            muon_momentum: 0.95,
            muon_nesterov: true,
            muon_ns_steps: 5,
            muon_weight_decay: 0.01,
            embedding_lr: Some(3e-3),
            head_lr: Some(2e-3),
        }
    }

    /// One step of the combined optimizer on a small untied GPT gives, for every parameter, the
    /// very bits of that parameter's own optimizer run alone at its group's rate: Muon at
    /// muon_lr * s / lr for the block matrices, AdamW at embedding_lr * s / lr for wte / wpe, at
    /// head_lr * s / lr for lm_head, at s for the rest (s = 5e-4, the schedule's rate).
    #[test]
    fn each_parameter_gets_its_groups_optimizer_and_rate() {
        let dev = Default::default();
        let config = GptConfig {
            vocab_size: Some(11),
            block_size: 4,
            d_model: 8,
            n_layers: 2,
            n_heads: 2,
            d_ff: 16,
            dropout: 0.0,
            bias: true,
            tie_embeddings: false,
            positions: PositionKind::Learned,
            gelu: GeluKind::Tanh,
            layer_norm_eps: 1e-5,
            layer_norm_bias: true,
            init_from: None,
            norm: NormKind::Layer,
            norm_affine: true,
            rope_theta: 10000.0,
            mlp: MlpKind::Gelu,
            n_kv_heads: None,
            qk_norm: false,
            logit_softcap: 0.0,
            zero_init_proj: false,
        };
        let model = config.init::<AB>(&dev);
        let ids = TensorData::new((0..10i64).map(|i| (i * 7) % 11).collect::<Vec<_>>(), [2, 5]);
        let ids = Tensor::<AB, 2, Int>::from_data(ids, &dev);
        let (inputs, targets) = (ids.clone().slice([0..2, 0..4]), ids.slice([0..2, 1..5]));
        let grads = GradientsParams::from_grads(cross_entropy(model.forward(inputs), targets).backward(), &model);
        let before = named_values::<AB, _>(&model);
        let infos = named_params::<AB, _>(&model);

        let s = settings();
        let schedule_lr = 5e-4;
        let mut optim = MuonAdamW::<AB>::new(&s);
        let after = named_values::<AB, _>(&optim.step(schedule_lr, model.clone(), grads_copy(&grads, &infos)));

        let muon = Muon { momentum: 0.95, nesterov: true, ns_steps: 5, weight_decay: 0.01 };
        let adamw = GroupedAdamW::new(&s);
        let mut groups_seen = Vec::new();
        for ((info, initial), (_, updated)) in before.iter().zip(&after) {
            let group = ParamGroup::of(&info.name, info.shape.len());
            groups_seen.push(group);
            let lr = schedule_lr * group.peak_lr(&s) / s.lr;
            let expected: Vec<f32> = match info.shape.as_slice() {
                &[n] => {
                    let (w, g) = (tensor::<1>(initial, [n]), grads.get::<NB, 1>(info.id).expect("grad"));
                    values(SimpleOptimizer::<NB>::step(&adamw, lr, w, g, None).0)
                }
                &[r, c] => {
                    let (w, g) = (tensor::<2>(initial, [r, c]), grads.get::<NB, 2>(info.id).expect("grad"));
                    let stepped = if group.is_muon() {
                        SimpleOptimizer::<NB>::step(&muon, lr, w, g, None).0
                    } else {
                        SimpleOptimizer::<NB>::step(&adamw, lr, w, g, None).0
                    };
                    values(stepped)
                }
                other => panic!("{}: unexpected rank {other:?}", info.name),
            };
            assert_eq!(updated, &expected, "{} ({group:?}) differs from its optimizer run alone", info.name);
            assert_ne!(updated, initial, "{} was updated", info.name);
        }
        for group in [ParamGroup::Hidden, ParamGroup::Embedding, ParamGroup::Head, ParamGroup::Other] {
            assert!(groups_seen.contains(&group), "the model has a {group:?} parameter");
        }
        // The state: Muon's for the 8 block matrices, AdamW's for every other parameter.
        let (adamw_states, muon_states) = optim.to_record();
        assert_eq!(muon_states.len(), 8);
        assert_eq!(adamw_states.len() + muon_states.len(), infos.len());
    }

    fn grads_copy(grads: &GradientsParams, infos: &[ParamInfo]) -> GradientsParams {
        let mut copy = GradientsParams::new();
        for info in infos {
            match info.shape.len() {
                1 => copy.register::<NB, 1>(info.id, grads.get(info.id).expect("grad")),
                _ => copy.register::<NB, 2>(info.id, grads.get(info.id).expect("grad")),
            }
        }
        copy
    }

    fn tensor<const D: usize>(values: &[f32], shape: [usize; D]) -> Tensor<NB, D> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Default::default())
    }

    fn values<const D: usize>(t: Tensor<NB, D>) -> Vec<f32> {
        t.into_data().to_vec().expect("f32")
    }
}
