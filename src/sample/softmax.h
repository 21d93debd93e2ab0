#ifndef ST_SAMPLE_SOFTMAX_H
#define ST_SAMPLE_SOFTMAX_H
/* e[i] = exp((logits[i] - mx) * inv_temp); *z = sum e, *zx = sum e * (logits[i] - mx) * inv_temp. */
void st_softmax_pass(const float *logits, int n, float mx, float inv_temp, float *e, double *z, double *zx);
/* Largest of x[0..n) (n > 0); NaNs are not expected (the caller checks the result). */
float st_max_f32(const float *x, int n);
/* 1 if some x[i] > t for i < n. */
int st_any_greater(const float *x, int n, float t);
#endif
