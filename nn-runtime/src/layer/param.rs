//! The tensors a layer holds, and `visit_parts!`, which writes a layer's two
//! visits from one list of them, so that `visit` and `visit_mut` cannot show
//! them in different orders (files, optimizers and gradient checks match
//! tensors by that order).

use super::{visit_in, visit_mut_in, BufferMut, BufferRef, ParamKind, ParamMut, ParamRef, Visit, VisitMut};
use crate::kernels::{Aligned, Float};

/// A trained tensor: its value and gradient, row-major in PyTorch's `shape`,
/// and what it is for. The gradient starts at zero; backward passes add to it.
#[derive(Clone, Debug)]
pub(crate) struct Param<T> {
    pub(crate) value: Aligned<T>,
    pub(crate) grad: Aligned<T>,
    shape: Vec<usize>,
    kind: ParamKind,
}

impl<T: Float> Param<T> {
    /// A tensor of PyTorch's `shape` holding `value`.
    pub(crate) fn new(kind: ParamKind, shape: &[usize], value: Vec<T>) -> Self {
        assert_eq!(value.len(), shape.iter().product::<usize>(), "a tensor of shape {shape:?}");
        let grad = Aligned::from(vec![T::zero(); value.len()]);
        Self { grad, value: value.into(), shape: shape.to_vec(), kind }
    }

    /// A tensor of `shape` with every value `v`.
    pub(crate) fn filled(kind: ParamKind, shape: &[usize], v: T) -> Self {
        Self::new(kind, shape, vec![v; shape.iter().product()])
    }

    /// PyTorch's shape of the tensor.
    pub(crate) fn shape(&self) -> &[usize] {
        &self.shape
    }
}

/// A float tensor that is not trained (running statistics), PyTorch's buffer.
#[derive(Clone, Debug)]
pub(crate) struct Buffer<T> {
    pub(crate) value: Vec<T>,
    shape: Vec<usize>,
}

impl<T: Float> Buffer<T> {
    /// A buffer of `shape` with every value `v`.
    pub(crate) fn filled(shape: &[usize], v: T) -> Self {
        Self { value: vec![v; shape.iter().product()], shape: shape.to_vec() }
    }
}

/// What `visit_parts!` can list, each shown to a visitor under the name of
/// its field: a [`Param`] (or an optional one, shown when present), a
/// [`Buffer`], and an `i64` counter such as `num_batches_tracked` (a 0-d
/// integer buffer in PyTorch).
pub(crate) trait Tensor<T> {
    fn show(&self, name: &str, v: &mut dyn Visit<T>);
    fn show_mut(&mut self, name: &str, v: &mut dyn VisitMut<T>);
}

impl<T> Tensor<T> for Param<T> {
    fn show(&self, name: &str, v: &mut dyn Visit<T>) {
        v.param(ParamRef { name, kind: self.kind, shape: &self.shape, value: &self.value, grad: &self.grad });
    }
    fn show_mut(&mut self, name: &str, v: &mut dyn VisitMut<T>) {
        v.param(ParamMut { name, kind: self.kind, shape: &self.shape, value: &mut self.value, grad: &mut self.grad });
    }
}

impl<T> Tensor<T> for Option<Param<T>> {
    fn show(&self, name: &str, v: &mut dyn Visit<T>) {
        if let Some(p) = self {
            p.show(name, v);
        }
    }
    fn show_mut(&mut self, name: &str, v: &mut dyn VisitMut<T>) {
        if let Some(p) = self {
            p.show_mut(name, v);
        }
    }
}

impl<T> Tensor<T> for Buffer<T> {
    fn show(&self, name: &str, v: &mut dyn Visit<T>) {
        v.buffer(BufferRef::Float { name, shape: &self.shape, value: &self.value });
    }
    fn show_mut(&mut self, name: &str, v: &mut dyn VisitMut<T>) {
        v.buffer(BufferMut::Float { name, shape: &self.shape, value: &mut self.value });
    }
}

impl<T> Tensor<T> for i64 {
    fn show(&self, name: &str, v: &mut dyn Visit<T>) {
        v.buffer(BufferRef::Count { name, value: *self });
    }
    fn show_mut(&mut self, name: &str, v: &mut dyn VisitMut<T>) {
        v.buffer(BufferMut::Count { name, value: self });
    }
}

/// Visits `v` under `segment` if there is one (an inner layer that DESIGN.md
/// names, as `gate`), else in place (a body, which numbers its own items).
pub(crate) fn visit_under<T>(v: &mut dyn Visit<T>, segment: Option<&str>, f: impl FnOnce(&mut dyn Visit<T>)) {
    match segment {
        Some(s) => visit_in(v, s, f),
        None => f(v),
    }
}

/// The mutable twin of [`visit_under`].
pub(crate) fn visit_mut_under<T>(v: &mut dyn VisitMut<T>, segment: Option<&str>, f: impl FnOnce(&mut dyn VisitMut<T>)) {
    match segment {
        Some(s) => visit_mut_in(v, s, f),
        None => f(v),
    }
}

/// Writes `visit` and `visit_mut` of a layer (inside its `impl Layer`, for a
/// scalar type named `T`) from one list of its parts, in visiting order:
///
/// - `tensors: weight, bias` lists fields that are a [`Tensor`], each shown
///   under its field's name, which is therefore PyTorch's name for it;
///   `; before visit_mut: method` calls `self.method()` first (Dense drops its
///   copy of a weight that the visitor may change). A visibility in front
///   (`pub(crate) tensors: ...`) writes inherent methods instead.
/// - `layers: body, gate in "gate"` lists inner layers (anything with the
///   three methods, as [`Branches`](crate::blocks::Branches)), visited in place or
///   under a naming segment; `freeze_randomness` then reaches all of them.
macro_rules! visit_parts {
    // An inner layer's optional segment as an `Option`.
    (@segment) => { None };
    (@segment $segment:literal) => { Some($segment) };
    (layers: $($layer:tt $(in $segment:literal)?),+ $(,)?) => {
        fn visit(&self, v: &mut dyn $crate::layer::Visit<T>) {
            $($crate::layer::visit_under(
                v,
                $crate::layer::visit_parts!(@segment $($segment)?),
                |v| self.$layer.visit(v),
            );)+
        }
        fn visit_mut(&mut self, v: &mut dyn $crate::layer::VisitMut<T>) {
            $($crate::layer::visit_mut_under(
                v,
                $crate::layer::visit_parts!(@segment $($segment)?),
                |v| self.$layer.visit_mut(v),
            );)+
        }
        fn freeze_randomness(&mut self, frozen: bool) {
            $(self.$layer.freeze_randomness(frozen);)+
        }
    };
    ($vis:vis tensors: $($field:ident),+ $(; before visit_mut: $hook:ident)?) => {
        $vis fn visit(&self, v: &mut dyn $crate::layer::Visit<T>) {
            $($crate::layer::Tensor::show(&self.$field, stringify!($field), v);)+
        }
        $vis fn visit_mut(&mut self, v: &mut dyn $crate::layer::VisitMut<T>) {
            $(self.$hook();)?
            $($crate::layer::Tensor::show_mut(&mut self.$field, stringify!($field), v);)+
        }
    };
}

pub(crate) use visit_parts;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        batch::Batch,
        layer::Layer,
        model::{Model, NamedBuffer},
    };

    /// The scalar type `visit_parts!` writes its methods for.
    type T = f64;

    /// A layer with one of each kind of part, listed once.
    struct Parts {
        weight: Param<f64>,
        bias: Option<Param<f64>>,
        absent: Option<Param<f64>>,
        running_mean: Buffer<f64>,
        num_batches_tracked: i64,
        changed: bool,
    }

    impl Parts {
        fn mark_changed(&mut self) {
            self.changed = true;
        }
    }

    impl Layer<f64, 1, 1> for Parts {
        fn forward(&mut self, _x: &Batch<f64, 1>) -> &Batch<f64, 1> {
            unreachable!("only visited")
        }
        fn backward(&mut self, _g: &Batch<f64, 1>) -> &Batch<f64, 1> {
            unreachable!("only visited")
        }
        fn predict(&self, x: &Batch<f64, 1>) -> Batch<f64, 1> {
            x.clone()
        }
        visit_parts!(tensors: weight, bias, absent, running_mean, num_batches_tracked; before visit_mut: mark_changed);
    }

    fn parts() -> Parts {
        Parts {
            weight: Param::new(ParamKind::Weight, &[2, 3], (0..6).map(f64::from).collect()),
            bias: Some(Param::filled(ParamKind::Bias, &[2], 0.5)),
            absent: None,
            running_mean: Buffer::filled(&[2], -1.0),
            num_batches_tracked: 7,
            changed: false,
        }
    }

    #[test]
    fn both_visits_show_the_parts_in_the_listed_order_under_their_field_names() {
        let mut m = crate::testing::LayerModel::new(parts());
        let params = m.parameters();
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!((params[0].kind, params[0].shape.as_slice()), (ParamKind::Weight, &[2, 3][..]));
        assert_eq!(params[0].value, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(
            (params[1].kind, params[1].value.as_slice(), params[1].grad.as_slice()),
            (ParamKind::Bias, &[0.5, 0.5][..], &[0.0, 0.0][..])
        );
        assert_eq!(
            m.buffers(),
            [
                NamedBuffer::Float { name: "running_mean".into(), shape: vec![2], value: vec![-1.0, -1.0] },
                NamedBuffer::Count { name: "num_batches_tracked".into(), value: 7 },
            ]
        );

        // The mutable visit calls the hook first, then shows the same tensors in the same order.
        struct Order(Vec<String>);
        impl VisitMut<f64> for Order {
            fn param(&mut self, p: ParamMut<'_, f64>) {
                p.grad[0] = 1.0;
                self.0.push(p.name.to_string());
            }
            fn buffer(&mut self, b: BufferMut<'_, f64>) {
                self.0.push(match b {
                    BufferMut::Float { name, .. } | BufferMut::Count { name, .. } => name.to_string(),
                });
            }
        }
        assert!(!m.layer.changed);
        let mut order = Order(Vec::new());
        m.visit_mut(&mut order);
        assert!(m.layer.changed, "the hook ran");
        assert_eq!(order.0, ["weight", "bias", "running_mean", "num_batches_tracked"]);
        assert_eq!(m.parameters()[1].grad, [1.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "a tensor of shape [2, 3]")]
    fn a_value_of_the_wrong_length_is_a_bug() {
        Param::new(ParamKind::Weight, &[2, 3], vec![0.0f32; 5]);
    }
}
