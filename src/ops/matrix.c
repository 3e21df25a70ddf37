/* ops/matrix.c — matrix product, transpose and reductions.
 *
 * Products go through GSL's BLAS (bound to OpenBLAS when configured) on
 * views of node memory; backward uses the transpose flags instead of
 * materialising transposes.  Shapes are validated before any BLAS call, so
 * GSL's error handler is never reached. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_matrix.h>

#include "ops/ops.h"

static gsl_matrix_view view(double *p, size_t r, size_t c)
{
    return gsl_matrix_view_array(p, r, c);
}

/* matmul: C = A B, (m,k)x(k,n) -> (m,n);  dA = G B^T, dB = A^T G */
static int matmul_shape(const nb_node *const *in, const double *hp, size_t *rows,
                        size_t *cols, char *msg, size_t len)
{
    (void)hp;
    if (in[0]->cols != in[1]->rows) {
        snprintf(msg, len, "(%zux%zu) x (%zux%zu): inner sizes differ", in[0]->rows,
                 in[0]->cols, in[1]->rows, in[1]->cols);
        return NB_ESHAPE;
    }
    *rows = in[0]->rows;
    *cols = in[1]->cols;
    return NB_OK;
}

static void matmul_forward(nb_node *out)
{
    nb_node *a = out->in[0], *b = out->in[1];
    gsl_matrix_view A = view(a->value, a->rows, a->cols);
    gsl_matrix_view B = view(b->value, b->rows, b->cols);
    gsl_matrix_view C = view(out->value, out->rows, out->cols);
    gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &A.matrix, &B.matrix, 0.0, &C.matrix);
}

/* matmul's grad_into: the input's gradient as one dgemm into dst with
 * alpha and beta; slot 0: dA (m,k) = G (m,n) B^T (n,k), slot 1: dB (k,n) =
 * A^T (k,m) G (m,n).  alpha = beta = 1 accumulates a gradient (backward);
 * alpha = -lr, beta = 1 - lr*wd is an SGD step into the weight itself
 * (nb_optim_backward).  affine shares it for X and W. */
static int matmul_grad_into(const nb_node *out, size_t slot, double *dst, double alpha,
                            double beta)
{
    if (slot > 1) return NB_EUNSUPPORTED;
    if (!dst) return NB_OK;
    const nb_node *a = out->in[0], *b = out->in[1];
    gsl_matrix_view G = view(out->grad, out->rows, out->cols);
    gsl_matrix_view D = view(dst, out->in[slot]->rows, out->in[slot]->cols);
    if (slot == 0) {
        gsl_matrix_view B = view(b->value, b->rows, b->cols);
        gsl_blas_dgemm(CblasNoTrans, CblasTrans, alpha, &G.matrix, &B.matrix, beta, &D.matrix);
    } else {
        gsl_matrix_view A = view(a->value, a->rows, a->cols);
        gsl_blas_dgemm(CblasTrans, CblasNoTrans, alpha, &A.matrix, &G.matrix, beta, &D.matrix);
    }
    return NB_OK;
}

/* dA += G B^T, dB += A^T G: grad_into with alpha = beta = 1. */
static void matmul_backward(nb_node *out)
{
    if (out->in[0]->grad) matmul_grad_into(out, 0, out->in[0]->grad, 1.0, 1.0);
    if (out->in[1]->grad) matmul_grad_into(out, 1, out->in[1]->grad, 1.0, 1.0);
}

/* A change of rows R of A reaches rows R of C; of columns K of B, columns K. */
static void matmul_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    if (i == 0) *res = (nb_rect){ in->r0, in->r1, 0, out->cols };
    else *res = (nb_rect){ 0, out->rows, in->c0, in->c1 };
}

/* C[r] = A[rows of r] B[:, cols of r], through BLAS on submatrix views. */
static void matmul_forward_region(nb_node *out, const nb_rect *r)
{
    nb_node *a = out->in[0], *b = out->in[1];
    gsl_matrix_view A = view(a->value, a->rows, a->cols);
    gsl_matrix_view B = view(b->value, b->rows, b->cols);
    gsl_matrix_view C = view(out->value, out->rows, out->cols);
    gsl_matrix_view As = gsl_matrix_submatrix(&A.matrix, r->r0, 0, r->r1 - r->r0, a->cols);
    gsl_matrix_view Bs = gsl_matrix_submatrix(&B.matrix, 0, r->c0, b->rows, r->c1 - r->c0);
    gsl_matrix_view Cs = gsl_matrix_submatrix(&C.matrix, r->r0, r->c0, r->r1 - r->r0, r->c1 - r->c0);
    /* One column (a weight of B moved) or one row (an input of A moved):
     * a matrix-vector product, which skips dgemm's packing of the panels. */
    if (r->c1 - r->c0 == 1) {
        gsl_vector_view x = gsl_matrix_column(&Bs.matrix, 0);
        gsl_vector_view y = gsl_matrix_column(&Cs.matrix, 0);
        gsl_blas_dgemv(CblasNoTrans, 1.0, &As.matrix, &x.vector, 0.0, &y.vector);
    } else if (r->r1 - r->r0 == 1) {
        gsl_vector_view x = gsl_matrix_row(&As.matrix, 0);
        gsl_vector_view y = gsl_matrix_row(&Cs.matrix, 0);
        gsl_blas_dgemv(CblasTrans, 1.0, &Bs.matrix, &x.vector, 0.0, &y.vector);
    } else {
        gsl_blas_dgemm(CblasNoTrans, CblasNoTrans, 1.0, &As.matrix, &Bs.matrix, 0.0, &Cs.matrix);
    }
}

/* The checker's update from a base point (nbi_region_update_fn), for matmul
 * and affine.  With C0 = A0 B0 (+ b0) the base value, a change of A inside
 * rows R and columns K, of B inside rows K and columns J, or of the bias
 * inside columns J moves the result by the change times the other operand:
 *     C[R,:] = C0[R,:] + (A - A0)[R,K] B[K,:]
 *     C[:,J] = C0[:,J] + A[:,K] (B - B0)[K,J]
 *     C[:,J] = C0[:,J] + (b - b0)[J]
 * |R| |K| n or m |K| |J| multiply-adds instead of the |R| k n or m k |J| of
 * the product over the whole inner size k: a coordinate of a first-layer
 * weight costs the same whatever the width of the layers after it.  The
 * value differs from the recomputed product in rounding only (both are
 * rounded at the scale of C; docs/gradcheck.md).  Outside the changed part
 * the change is zero, and a zero change is skipped, so at the base point
 * the update returns C0 exactly.  Declines (returns 0) when K is more than
 * half of the inner size, where recomputing costs no more. */
static int product_region_update(nb_node *out, const nb_node *base, size_t i, const nb_rect *in,
                                 const nb_rect *res)
{
    const nb_node *a = out->in[0], *b = out->in[1];
    size_t k = a->cols, n = out->cols;
    const double *c0 = base->value;
    if (i > 2 || (i == 2 && out->op != &nbi_ops_matrix[NBI_OP_AFFINE])) return 0;
    if (i < 2 && 2 * (i == 0 ? in->c1 - in->c0 : in->r1 - in->r0) > k) return 0;
    for (size_t r = res->r0; r < res->r1; r++) {
        double *restrict y = out->value + r * n;
        const double *restrict y0 = c0 + r * n;
        for (size_t j = res->c0; j < res->c1; j++) y[j] = y0[j];
        if (i == 0) {          /* y += (A - A0)[r,K] B[K,:] */
            const double *ar = a->value + r * k, *ar0 = base->in[0]->value + r * k;
            for (size_t q = in->c0; q < in->c1; q++) {
                double d = ar[q] - ar0[q];
                if (d == 0.0) continue;
                const double *restrict bq = b->value + q * n;
                for (size_t j = res->c0; j < res->c1; j++) y[j] += d * bq[j];
            }
        } else if (i == 1) {   /* y += A[r,K] (B - B0)[K,:] */
            const double *ar = a->value + r * k;
            for (size_t q = in->r0; q < in->r1; q++) {
                const double *restrict bq = b->value + q * n, *restrict bq0 = base->in[1]->value + q * n;
                for (size_t j = res->c0; j < res->c1; j++) {
                    double d = bq[j] - bq0[j];
                    if (d != 0.0) y[j] += ar[q] * d;
                }
            }
        } else {               /* y += (b - b0)[J] */
            const double *restrict c = out->in[2]->value, *restrict cb0 = base->in[2]->value;
            for (size_t j = res->c0; j < res->c1; j++) {
                double d = c[j] - cb0[j];
                if (d != 0.0) y[j] += d;
            }
        }
    }
    return 1;
}

nbi_region_update_fn nbi_op_region_update(const nb_op *op)
{
    if (op == &nbi_ops_matrix[NBI_OP_MATMUL] || op == &nbi_ops_matrix[NBI_OP_AFFINE])
        return product_region_update;
    return NULL;
}

/* affine: Y = X W + b, (m,k)x(k,n) + (1,n) -> (m,n);  dX = G W^T,
 * dW = X^T G, db_j = sum_i G_ij.  A dense layer in one node: the product
 * through dgemm, then the bias added row by row in the same order as
 * matmul followed by add (so the values are those of the two-node form, bit
 * for bit), without the second node's value, gradient and passes. */
static int affine_shape(const nb_node *const *in, const double *hp, size_t *rows,
                        size_t *cols, char *msg, size_t len)
{
    int st = matmul_shape(in, hp, rows, cols, msg, len);
    if (st != NB_OK) return st;
    if (in[2]->rows != 1 || in[2]->cols != *cols) {
        snprintf(msg, len, "(%zux%zu) x (%zux%zu) + (%zux%zu): the bias must be (1x%zu)",
                 in[0]->rows, in[0]->cols, in[1]->rows, in[1]->cols, in[2]->rows,
                 in[2]->cols, *cols);
        return NB_ESHAPE;
    }
    return NB_OK;
}

/* Y[r] += b over the columns of r. */
static void add_bias(nb_node *out, const nb_rect *r)
{
    const double *restrict b = out->in[2]->value;
    for (size_t i = r->r0; i < r->r1; i++) {
        double *restrict y = out->value + i * out->cols;
        for (size_t j = r->c0; j < r->c1; j++) y[j] = y[j] + b[j];
    }
}

static void affine_forward(nb_node *out)
{
    matmul_forward(out);
    add_bias(out, &(nb_rect){ 0, out->rows, 0, out->cols });
}

static void affine_backward(nb_node *out)
{
    matmul_backward(out);
    /* db: the column sums add's backward takes for a bias row */
    nbi_bcast_accum(out->in[2], out->grad, NULL, 1.0, out->rows, out->cols);
}

/* X's rows and W's columns as for matmul; a bias column reaches that
 * column of every row. */
static void affine_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    if (i < 2) matmul_region(out, i, in, res);
    else *res = (nb_rect){ 0, out->rows, in->c0, in->c1 };
}

static void affine_forward_region(nb_node *out, const nb_rect *r)
{
    matmul_forward_region(out, r);
    add_bias(out, r);
}

/* transpose: Y = X^T, (r,c) -> (c,r);  dX = G^T */
static int transpose_shape(const nb_node *const *in, const double *hp, size_t *rows,
                           size_t *cols, char *msg, size_t len)
{
    (void)hp; (void)msg; (void)len;
    *rows = in[0]->cols;
    *cols = in[0]->rows;
    return NB_OK;
}

static void transpose_forward(nb_node *out)
{
    const nb_node *x = out->in[0];
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) out->value[j * x->rows + i] = x->value[i * x->cols + j];
}

static void transpose_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    (void)out; (void)i;
    *res = (nb_rect){ in->c0, in->c1, in->r0, in->r1 };
}

static void transpose_forward_region(nb_node *out, const nb_rect *r)
{
    const nb_node *x = out->in[0];
    for (size_t i = r->r0; i < r->r1; i++)
        for (size_t j = r->c0; j < r->c1; j++) out->value[i * out->cols + j] = x->value[j * x->cols + i];
}

static void transpose_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) x->grad[i * x->cols + j] += out->grad[j * x->rows + i];
}

/* sum: y = Σ x_ij -> (1,1);  dx_ij = g */
static void sum_forward(nb_node *out)
{
    const nb_node *x = out->in[0];
    double s = 0.0;
    for (size_t k = 0; k < x->rows * x->cols; k++) s += x->value[k];
    out->value[0] = s;
}

static void sum_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    double g = out->grad[0];
    for (size_t k = 0; k < x->rows * x->cols; k++) x->grad[k] += g;
}

/* mean: y = Σ x_ij / (r c) -> (1,1);  dx_ij = g / (r c) */
static void mean_forward(nb_node *out)
{
    sum_forward(out);
    out->value[0] /= (double)(out->in[0]->rows * out->in[0]->cols);
}

static void mean_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    double g = out->grad[0] / (double)(x->rows * x->cols);
    for (size_t k = 0; k < x->rows * x->cols; k++) x->grad[k] += g;
}

/* row_sums: y_i = Σ_j x_ij, (r,c) -> (r,1);  dx_ij = g_i */
static int row_sums_shape(const nb_node *const *in, const double *hp, size_t *rows,
                          size_t *cols, char *msg, size_t len)
{
    (void)hp; (void)msg; (void)len;
    *rows = in[0]->rows;
    *cols = 1;
    return NB_OK;
}

static void row_sums_forward(nb_node *out)
{
    const nb_node *x = out->in[0];
    for (size_t i = 0; i < x->rows; i++) {
        double s = 0.0;
        for (size_t j = 0; j < x->cols; j++) s += x->value[i * x->cols + j];
        out->value[i] = s;
    }
}

static void row_sums_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    (void)out; (void)i;
    *res = (nb_rect){ in->r0, in->r1, 0, 1 };
}

static void row_sums_forward_region(nb_node *out, const nb_rect *r)
{
    const nb_node *x = out->in[0];
    for (size_t i = r->r0; i < r->r1; i++) {
        double s = 0.0;
        for (size_t j = 0; j < x->cols; j++) s += x->value[i * x->cols + j];
        out->value[i] = s;
    }
}

static void row_sums_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) x->grad[i * x->cols + j] += out->grad[i];
}

/* col_sums: y_j = Σ_i x_ij, (r,c) -> (1,c);  dx_ij = g_j */
static int col_sums_shape(const nb_node *const *in, const double *hp, size_t *rows,
                          size_t *cols, char *msg, size_t len)
{
    (void)hp; (void)msg; (void)len;
    *rows = 1;
    *cols = in[0]->cols;
    return NB_OK;
}

static void col_sums_forward(nb_node *out)
{
    const nb_node *x = out->in[0];
    memset(out->value, 0, x->cols * sizeof(double));
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) out->value[j] += x->value[i * x->cols + j];
}

static void col_sums_region(const nb_node *out, size_t i, const nb_rect *in, nb_rect *res)
{
    (void)out; (void)i;
    *res = (nb_rect){ 0, 1, in->c0, in->c1 };
}

/* Same summation order as col_sums_forward: down the rows. */
static void col_sums_forward_region(nb_node *out, const nb_rect *r)
{
    const nb_node *x = out->in[0];
    for (size_t j = r->c0; j < r->c1; j++) out->value[j] = 0.0;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = r->c0; j < r->c1; j++) out->value[j] += x->value[i * x->cols + j];
}

static void col_sums_backward(nb_node *out)
{
    nb_node *x = out->in[0];
    if (!x->grad) return;
    for (size_t i = 0; i < x->rows; i++)
        for (size_t j = 0; j < x->cols; j++) x->grad[i * x->cols + j] += out->grad[j];
}

const nb_op nbi_ops_matrix[] = {
    [NBI_OP_MATMUL] = { .name = "matmul", .maths = "C = A B, (m,k)x(k,n); dA = G B^T, dB = A^T G", .arity = 2,
      .shape = matmul_shape, .forward = matmul_forward, .backward = matmul_backward,
      .region = matmul_region, .forward_region = matmul_forward_region,
      .grad_into = matmul_grad_into },
    [NBI_OP_TRANSPOSE] = { .name = "transpose", .maths = "Y = X^T; dX = G^T", .arity = 1,
      .shape = transpose_shape, .forward = transpose_forward, .backward = transpose_backward,
      .region = transpose_region, .forward_region = transpose_forward_region },
    [NBI_OP_SUM] = { .name = "sum", .maths = "y = sum_ij x_ij; dx_ij = g", .arity = 1,
      .shape = nb_shape_scalar, .forward = sum_forward, .backward = sum_backward },
    [NBI_OP_MEAN] = { .name = "mean", .maths = "y = sum_ij x_ij / (r c); dx_ij = g / (r c)", .arity = 1,
      .shape = nb_shape_scalar, .forward = mean_forward, .backward = mean_backward },
    [NBI_OP_ROW_SUMS] = { .name = "row_sums", .maths = "y_i = sum_j x_ij, (r,c)->(r,1); dx_ij = g_i", .arity = 1,
      .shape = row_sums_shape, .forward = row_sums_forward, .backward = row_sums_backward,
      .region = row_sums_region, .forward_region = row_sums_forward_region },
    [NBI_OP_COL_SUMS] = { .name = "col_sums", .maths = "y_j = sum_i x_ij, (r,c)->(1,c); dx_ij = g_j", .arity = 1,
      .shape = col_sums_shape, .forward = col_sums_forward, .backward = col_sums_backward,
      .region = col_sums_region, .forward_region = col_sums_forward_region },
    [NBI_OP_AFFINE] = { .name = "affine", .maths = "Y = X W + b, (m,k)x(k,n)+(1,n); dX = G W^T, dW = X^T G, db = sum_i G_i",
      .arity = 3, .shape = affine_shape, .forward = affine_forward, .backward = affine_backward,
      .region = affine_region, .forward_region = affine_forward_region,
      .grad_into = matmul_grad_into },
};
const size_t nbi_n_ops_matrix = sizeof nbi_ops_matrix / sizeof nbi_ops_matrix[0];
