//! [`Snapshot`]: a copy of a model's parameters and buffers, each under its
//! full PyTorch name, taken and put back through `visit`/`visit_mut`.
//!
//! It is the one copy of a model's state in the crate: the trainer's best
//! weights (early stopping) and its undo of a step that went non-finite,
//! the weights [`GradientFlow::with_update`](crate::diagnostics::GradientFlow::with_update)
//! measures an optimizer step against, the gradients and buffers a
//! gradient-flow measurement puts back, and what a weights file is checked
//! into before it is written into the model ([`crate::io`]). A file holds
//! exactly a snapshot's tensors, so a training state
//! ([`crate::train::TrainingState`]) is snapshots (of the model with its
//! dropout generators, of the best weights, of the optimizer) plus whatever
//! else it needs to resume.

use crate::layer::{BufferMut, BufferRef, NamePath, ParamKind, ParamMut, ParamRef};
use crate::{
    init::SeededRng,
    kernels::Float,
    layer::{Visit, VisitMut},
    model::Model,
};

/// A copy of a model's parameter values and buffers, in visiting order, each
/// under its full name (`"3.projection.weight"`, `"1.running_mean"`): what a
/// weights file holds.
///
/// Taking a snapshot again into the same value ([`Snapshot::capture`])
/// reuses its storage, so after the first time it allocates nothing.
///
/// ```
/// use nn_runtime::testing::{scramble, LayerModel};
/// use nn_runtime::{seeded_rng, Dense, Init, Snapshot};
///
/// let mut model = LayerModel::new(Dense::<f64, 3, 2>::new(&mut seeded_rng(0), Init::XavierNormal, true));
/// let saved = Snapshot::of(&model);
/// assert_eq!(saved.entries()[1].name, "bias");
/// scramble(&mut model, 1); // as training would
/// assert_ne!(Snapshot::of(&model), saved);
/// saved.restore(&mut model);
/// assert_eq!(Snapshot::of(&model), saved);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot<T> {
    contents: Contents,
    entries: Vec<Entry<T>>,
}

/// One tensor of a [`Snapshot`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Entry<T> {
    /// The full PyTorch name (`"3.projection.weight"`).
    pub name: String,
    /// PyTorch's shape; `[]` for a counter.
    pub shape: Vec<usize>,
    /// The values.
    pub data: Data<T>,
}

/// What an [`Entry`] holds. A checkpoint may come to hold more than a
/// model's tensors, so a `match` needs a `_` arm.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Data<T> {
    /// A parameter's values, row-major (its gradient, in the crate's
    /// snapshots of gradients).
    Param {
        /// What the parameter is to an optimizer and an initializer.
        kind: ParamKind,
        /// The values (or gradients), row-major.
        values: Vec<T>,
    },
    /// A floating-point buffer such as `running_mean`, row-major.
    Buffer(Vec<T>),
    /// A counter such as `num_batches_tracked`, or an optimizer's step count.
    Count(i64),
    /// A layer's random generator (in a training state only; its entry's
    /// shape is that of its bytes in a file, `[RNG_BYTES]`).
    Rng(Box<SeededRng>),
}

/// The bytes a [`Data::Rng`] takes in a file: the generator's seed (32), stream
/// (8) and position in its stream (16, in 32-bit words), little-endian.
pub const RNG_BYTES: usize = 56;

/// A generator's state as [`RNG_BYTES`] bytes.
pub(crate) fn rng_to_bytes(rng: &SeededRng) -> [u8; RNG_BYTES] {
    let mut b = [0; RNG_BYTES];
    b[..32].copy_from_slice(&rng.get_seed());
    b[32..40].copy_from_slice(&rng.get_stream().to_le_bytes());
    b[40..].copy_from_slice(&rng.get_word_pos().to_le_bytes());
    b
}

/// The generator [`rng_to_bytes`] wrote: it continues the same stream from
/// the same word.
pub(crate) fn rng_from_bytes(b: &[u8; RNG_BYTES]) -> SeededRng {
    use rand::SeedableRng;
    let mut seed = [0; 32];
    seed.copy_from_slice(&b[..32]);
    let mut rng = SeededRng::from_seed(seed);
    rng.set_stream(u64::from_le_bytes(b[32..40].try_into().expect("8 bytes")));
    rng.set_word_pos(u128::from_le_bytes(b[40..].try_into().expect("16 bytes")));
    rng
}

impl<T> Data<T> {
    /// The floating-point values; `None` for a counter.
    pub fn floats(&self) -> Option<&[T]> {
        match self {
            Data::Param { values, .. } | Data::Buffer(values) => Some(values),
            Data::Count(_) | Data::Rng(_) => None,
        }
    }

    /// Takes the float storage out (to be refilled without allocating),
    /// leaving a counter behind.
    fn take_floats(&mut self) -> Vec<T> {
        match std::mem::replace(self, Data::Count(0)) {
            Data::Param { values, .. } | Data::Buffer(values) => values,
            Data::Count(_) | Data::Rng(_) => Vec::new(),
        }
    }
}

/// Which parts of a model a snapshot copies. Buffers always: every forward
/// in training mode changes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    /// Parameter values and buffers: the model's state.
    State,
    /// Buffers only: what a training forward changes, the parameters not yet.
    Buffers,
    /// Parameter gradients and buffers: what a forward and backward change.
    GradsAndBuffers,
    /// Parameter values, buffers and dropout generators: the model's part of
    /// a training state.
    Training,
}

impl<T: Float> Snapshot<T> {
    /// Copies `model`'s parameter values and buffers.
    pub fn of<M: Model<T>>(model: &M) -> Self {
        Self::taken(Contents::State, model)
    }

    /// An empty snapshot of `contents`, to [`Snapshot::capture`] into.
    pub(crate) fn new(contents: Contents) -> Self {
        Self { contents, entries: Vec::new() }
    }

    /// A snapshot of `contents` of `model`.
    pub(crate) fn taken<M: Model<T>>(contents: Contents, model: &M) -> Self {
        let mut s = Self::new(contents);
        s.capture(model);
        s
    }

    /// Copies `model`'s parameter values, buffers and dropout generators: all
    /// a training run needs of it to go on exactly as it would have.
    pub(crate) fn training<M: Model<T>>(model: &M) -> Self {
        Self::taken(Contents::Training, model)
    }

    /// An empty snapshot to fill with [`Snapshot::push`]: an optimizer's
    /// state ([`Optimizer::state`](crate::optim::Optimizer::state)).
    pub fn empty() -> Self {
        Self::new(Contents::Training)
    }

    /// Adds a tensor at the end.
    pub fn push(&mut self, name: String, shape: Vec<usize>, data: Data<T>) {
        self.entries.push(Entry { name, shape, data });
    }

    /// Appends `other`'s tensors, each named `{prefix}.{name}`: the parts of
    /// a training state in one file.
    pub(crate) fn append(&mut self, prefix: &str, other: &Snapshot<T>) {
        for e in &other.entries {
            self.push(format!("{prefix}.{}", e.name), e.shape.clone(), e.data.clone());
        }
    }

    /// The tensors named `{prefix}.*`, without the prefix, as a snapshot of
    /// `contents` (what [`Snapshot::append`] put in).
    pub(crate) fn part(&self, prefix: &str, contents: Contents) -> Snapshot<T> {
        let mut part = Self::new(contents);
        for e in &self.entries {
            if let Some(name) = e.name.strip_prefix(prefix).and_then(|n| n.strip_prefix('.')) {
                part.push(name.to_string(), e.shape.clone(), e.data.clone());
            }
        }
        part
    }

    /// The tensor named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry<T>> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Copies `model` again, into this snapshot's storage.
    pub fn capture<M: Model<T>>(&mut self, model: &M) {
        let mut c = Capture { contents: self.contents, path: NamePath::default(), entries: &mut self.entries, next: 0 };
        model.visit(&mut c);
        let taken = c.next;
        self.entries.truncate(taken);
    }

    /// Writes the snapshot back into `model`.
    ///
    /// # Panics
    ///
    /// If `model` is not the network the snapshot was taken of: a tensor's
    /// name, shape or kind differs, or one is missing or extra. Nothing is
    /// written then. (A weights file, which comes from outside, is checked
    /// with a typed error instead: [`crate::io`].)
    pub fn restore<M: Model<T>>(&self, model: &mut M) {
        let mut check = Check { contents: self.contents, path: NamePath::default(), entries: &self.entries, next: 0 };
        model.visit(&mut check);
        if let Some(extra) = self.entries.get(check.next) {
            panic!("snapshot of another network: it has `{}`, which the model does not", extra.name);
        }
        model.visit_mut(&mut Restore { contents: self.contents, entries: self.entries.iter() });
    }

    /// The tensors, in visiting order.
    pub fn entries(&self) -> &[Entry<T>] {
        &self.entries
    }

    /// The tensors, to fill with values checked elsewhere (a file being loaded).
    pub(crate) fn entries_mut(&mut self) -> &mut [Entry<T>] {
        &mut self.entries
    }
}

impl Contents {
    /// Which side of each parameter is copied: its value, its gradient, or neither.
    fn param<'p, T>(self, value: &'p [T], grad: &'p [T]) -> Option<&'p [T]> {
        match self {
            Contents::State | Contents::Training => Some(value),
            Contents::GradsAndBuffers => Some(grad),
            Contents::Buffers => None,
        }
    }
}

/// Whether `name` is `leaf` under the prefix `path` (`"3.projection"` + `"weight"`).
fn is_named(path: &NamePath, leaf: &str, name: &str) -> bool {
    let prefix = path.prefix();
    if prefix.is_empty() {
        return name == leaf;
    }
    name.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('.')).is_some_and(|rest| rest == leaf)
}

/// Fills the entries in visiting order, reusing each one's storage.
struct Capture<'a, T> {
    contents: Contents,
    path: NamePath,
    entries: &'a mut Vec<Entry<T>>,
    next: usize,
}

impl<T: Float> Capture<'_, T> {
    /// The next entry, named and shaped; its data is the caller's to set.
    fn slot(&mut self, leaf: &str, shape: &[usize]) -> &mut Entry<T> {
        if self.next == self.entries.len() {
            self.entries.push(Entry { name: String::new(), shape: Vec::new(), data: Data::Count(0) });
        }
        let e = &mut self.entries[self.next];
        self.next += 1;
        e.name.clear();
        if !self.path.prefix().is_empty() {
            e.name.push_str(self.path.prefix());
            e.name.push('.');
        }
        e.name.push_str(leaf);
        e.shape.clear();
        e.shape.extend_from_slice(shape);
        e
    }

    fn floats(&mut self, leaf: &str, shape: &[usize], src: &[T], wrap: impl FnOnce(Vec<T>) -> Data<T>) {
        let e = self.slot(leaf, shape);
        let mut values = e.data.take_floats();
        values.clear();
        values.extend_from_slice(src);
        e.data = wrap(values);
    }
}

impl<T: Float> Visit<T> for Capture<'_, T> {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        if let Some(src) = self.contents.param(p.value, p.grad) {
            let kind = p.kind;
            self.floats(p.name, p.shape, src, |values| Data::Param { kind, values });
        }
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        match b {
            BufferRef::Float { name, shape, value } => self.floats(name, shape, value, Data::Buffer),
            BufferRef::Count { name, value } => self.slot(name, &[]).data = Data::Count(value),
        }
    }
    fn rng(&mut self, name: &str, rng: &SeededRng) {
        if self.contents == Contents::Training {
            self.slot(name, &[RNG_BYTES]).data = Data::Rng(Box::new(rng.clone()));
        }
    }
}

/// Walks the model as [`Restore`] will and panics at the first tensor that
/// does not match the snapshot's, before anything is written.
struct Check<'a, T> {
    contents: Contents,
    path: NamePath,
    entries: &'a [Entry<T>],
    next: usize,
}

impl<T: Float> Check<'_, T> {
    fn expect(&mut self, leaf: &str, shape: &[usize], fits: impl Fn(&Data<T>) -> bool) {
        let full = || self.path.full(leaf);
        let Some(e) = self.entries.get(self.next) else {
            panic!("snapshot of another network: it lacks `{}`", full());
        };
        if !is_named(&self.path, leaf, &e.name) || e.shape != shape || !fits(&e.data) {
            panic!(
                "snapshot of another network: the model has `{}` {shape:?} where the snapshot has `{}` {:?}",
                full(),
                e.name,
                e.shape
            );
        }
        self.next += 1;
    }
}

impl<T: Float> Visit<T> for Check<'_, T> {
    fn enter(&mut self, segment: &str) {
        self.path.enter(segment);
    }
    fn leave(&mut self) {
        self.path.leave();
    }
    fn param(&mut self, p: ParamRef<'_, T>) {
        if self.contents.param(p.value, p.grad).is_some() {
            self.expect(p.name, p.shape, |d| matches!(d, Data::Param { .. }));
        }
    }
    fn buffer(&mut self, b: BufferRef<'_, T>) {
        match b {
            BufferRef::Float { name, shape, .. } => self.expect(name, shape, |d| matches!(d, Data::Buffer(_))),
            BufferRef::Count { name, .. } => self.expect(name, &[], |d| matches!(d, Data::Count(_))),
        }
    }
    fn rng(&mut self, name: &str, _rng: &SeededRng) {
        if self.contents == Contents::Training {
            self.expect(name, &[RNG_BYTES], |d| matches!(d, Data::Rng(_)));
        }
    }
}

/// Writes the entries back in visiting order; [`Check`] has matched them up.
struct Restore<'a, T> {
    contents: Contents,
    entries: std::slice::Iter<'a, Entry<T>>,
}

impl<T: Float> VisitMut<T> for Restore<'_, T> {
    fn param(&mut self, p: ParamMut<'_, T>) {
        let dst = match self.contents {
            Contents::State | Contents::Training => p.value,
            Contents::GradsAndBuffers => p.grad,
            Contents::Buffers => return,
        };
        if let Some(Entry { data: Data::Param { values, .. }, .. }) = self.entries.next() {
            dst.copy_from_slice(values);
        }
    }
    fn buffer(&mut self, b: BufferMut<'_, T>) {
        match (b, self.entries.next().map(|e| &e.data)) {
            (BufferMut::Float { value, .. }, Some(Data::Buffer(v))) => value.copy_from_slice(v),
            (BufferMut::Count { value, .. }, Some(Data::Count(c))) => *value = *c,
            _ => {}
        }
    }
    fn rng(&mut self, _name: &str, rng: &mut SeededRng) {
        if self.contents != Contents::Training {
            return;
        }
        if let Some(Entry { data: Data::Rng(saved), .. }) = self.entries.next() {
            rng.clone_from(saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::empty;
    use crate::testing::LayerModel;
    use crate::{batch::Batch, init::Init, layer::Layer, layers::Dense};

    /// Identity with a parameter, a float buffer and a counter that forward changes.
    struct Stateful {
        w: Vec<f64>,
        g: Vec<f64>,
        running: Vec<f64>,
        count: i64,
        y: Batch<f64, 2>,
    }

    impl Layer<f64, 2, 2> for Stateful {
        fn forward(&mut self, x: &Batch<f64, 2>) -> &Batch<f64, 2> {
            self.running[0] += x.sum();
            self.count += 1;
            self.y = x.clone();
            &self.y
        }
        fn backward(&mut self, g: &Batch<f64, 2>) -> &Batch<f64, 2> {
            self.g.iter_mut().zip(g.iter()).for_each(|(a, b)| *a += b);
            self.y = g.clone();
            &self.y
        }
        fn predict(&self, x: &Batch<f64, 2>) -> Batch<f64, 2> {
            x.clone()
        }
        fn visit(&self, v: &mut dyn Visit<f64>) {
            v.param(ParamRef { name: "w", kind: ParamKind::Weight, shape: &[2], value: &self.w, grad: &self.g });
            v.buffer(BufferRef::Float { name: "running", shape: &[1], value: &self.running });
            v.buffer(BufferRef::Count { name: "count", value: self.count });
        }
        fn visit_mut(&mut self, v: &mut dyn VisitMut<f64>) {
            v.param(ParamMut {
                name: "w",
                kind: ParamKind::Weight,
                shape: &[2],
                value: &mut self.w,
                grad: &mut self.g,
            });
            v.buffer(BufferMut::Float { name: "running", shape: &[1], value: &mut self.running });
            v.buffer(BufferMut::Count { name: "count", value: &mut self.count });
        }
    }

    fn stateful() -> LayerModel<f64, Stateful, 2, 2> {
        LayerModel::new(Stateful { w: vec![1.0, 2.0], g: vec![0.0; 2], running: vec![0.5], count: 3, y: empty() })
    }

    fn step(m: &mut LayerModel<f64, Stateful, 2, 2>) {
        m.forward_view(nalgebra::DMatrix::from_element(2, 1, 1.0).as_view()).unwrap();
        m.backward_view(nalgebra::DMatrix::from_element(2, 1, 0.25).as_view()).unwrap();
        m.layer.w[1] = 7.0;
    }

    /// (weights, gradients, running value, counter)
    fn parts(m: &LayerModel<f64, Stateful, 2, 2>) -> (Vec<f64>, Vec<f64>, f64, i64) {
        (m.layer.w.clone(), m.layer.g.clone(), m.layer.running[0], m.layer.count)
    }

    #[test]
    fn holds_every_tensor_by_full_name_and_shape() {
        let s = Snapshot::of(&stateful());
        let got: Vec<(&str, &[usize], &Data<f64>)> =
            s.entries().iter().map(|e| (e.name.as_str(), e.shape.as_slice(), &e.data)).collect();
        let w = Data::Param { kind: ParamKind::Weight, values: vec![1.0, 2.0] };
        let expected: [(&str, &[usize], &Data<f64>); 3] =
            [("w", &[2], &w), ("running", &[1], &Data::Buffer(vec![0.5])), ("count", &[], &Data::Count(3))];
        assert_eq!(got, expected);

        let dense = LayerModel::new(Dense::<f64, 3, 2>::new(&mut crate::init::seeded_rng(0), Init::XavierNormal, true));
        let names: Vec<String> = Snapshot::of(&dense).entries().iter().map(|e| e.name.clone()).collect();
        let params: Vec<String> = dense.parameters().into_iter().map(|p| p.name).collect();
        assert_eq!(names, params);
    }

    #[test]
    fn each_kind_restores_what_it_copied_and_nothing_else() {
        let mut m = stateful();
        let state = Snapshot::of(&m);
        let buffers = Snapshot::taken(Contents::Buffers, &m);
        step(&mut m);
        let grads = Snapshot::taken(Contents::GradsAndBuffers, &m);
        assert_eq!(parts(&m), (vec![1.0, 7.0], vec![0.25, 0.25], 2.5, 4));

        buffers.restore(&mut m);
        assert_eq!(parts(&m), (vec![1.0, 7.0], vec![0.25, 0.25], 0.5, 3));
        step(&mut m);
        state.restore(&mut m);
        assert_eq!(parts(&m), (vec![1.0, 2.0], vec![0.5, 0.5], 0.5, 3));
        step(&mut m);
        grads.restore(&mut m);
        assert_eq!(parts(&m), (vec![1.0, 7.0], vec![0.25, 0.25], 2.5, 4));
    }

    #[test]
    fn capturing_again_reuses_the_storage() {
        let mut m = stateful();
        let mut s = Snapshot::of(&m);
        let (name, values) = (s.entries[0].name.as_ptr(), s.entries[0].data.floats().unwrap().as_ptr());
        step(&mut m);
        s.capture(&m);
        assert_eq!(s, Snapshot::of(&m));
        assert_eq!(s.entries[0].name.as_ptr(), name);
        assert_eq!(s.entries[0].data.floats().unwrap().as_ptr(), values);
    }

    fn dense<const I: usize>(seed: u64, bias: bool) -> LayerModel<f64, Dense<f64, I, 2>, I, 2> {
        LayerModel::new(Dense::new(&mut crate::init::seeded_rng(seed), Init::XavierNormal, bias))
    }

    /// Restores `from` into `into`, expecting a panic whose message holds
    /// `says`, and checks that nothing was written.
    fn refused<const I: usize, const J: usize>(
        from: &LayerModel<f64, Dense<f64, I, 2>, I, 2>,
        into: &mut LayerModel<f64, Dense<f64, J, 2>, J, 2>,
        says: &str,
    ) {
        let before = Snapshot::of(into);
        let snapshot = Snapshot::of(from);
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| snapshot.restore(into))).unwrap_err();
        let msg = panic.downcast_ref::<String>().expect("a formatted panic message");
        assert!(msg.contains(says), "{msg}");
        assert_eq!(Snapshot::of(into), before, "a refused restore wrote into the model");
    }

    #[test]
    fn restoring_into_another_network_panics_before_writing() {
        let small = dense::<2>(0, true);
        refused(
            &small,
            &mut dense::<3>(1, true),
            "the model has `weight` [2, 3] where the snapshot has `weight` [2, 2]",
        );
        refused(&small, &mut dense::<2>(1, false), "it has `bias`, which the model does not");
        refused(&dense::<2>(0, false), &mut dense::<2>(1, true), "it lacks `bias`");
    }

    #[test]
    fn a_generator_saved_as_bytes_goes_on_with_the_same_numbers() {
        use rand::{Rng, RngCore};
        // Stops at every word position of a 64-word buffer and past it,
        // including the last word, where a u64 straddles two buffers.
        for skip in [0, 1, 5, 62, 63, 64, 65, 127, 1000] {
            let mut rng = crate::init::seeded_rng(9);
            rng.set_stream(3);
            for _ in 0..skip {
                rng.next_u32();
            }
            let mut copy = rng_from_bytes(&rng_to_bytes(&rng));
            assert_eq!(copy, rng, "after {skip} words");
            let ahead: Vec<u64> = (0..200).map(|_| rng.random()).collect();
            let again: Vec<u64> = (0..200).map(|_| copy.random()).collect();
            assert_eq!(ahead, again, "after {skip} words");
        }
    }

    #[test]
    fn dropout_generators_are_in_a_training_snapshot_and_not_in_the_weights() {
        use crate::layers::Dropout;
        let x = Batch::<f64, 8>::from_element(4, 1.0);
        let mut model = LayerModel::new(Dropout::<f64, 8>::new(0.5, crate::init::seeded_rng(4)));
        model.forward_view(x.as_view()).unwrap();
        assert!(Snapshot::of(&model).entries().is_empty(), "a weights file holds no generator");
        let saved = Snapshot::training(&model);
        assert_eq!(saved.entries()[0].name, "rng");
        assert_eq!(saved.entries()[0].shape, [RNG_BYTES]);
        let next = model.forward_view(x.as_view()).unwrap().into_owned();
        model.forward_view(x.as_view()).unwrap();
        saved.restore(&mut model);
        assert_eq!(model.forward_view(x.as_view()).unwrap(), next, "the same mask again");
    }
}
