/** An error raised inside MLX (shape mismatch, bad dtype, failed file read...), carrying MLX's own message. */
export class MlxError extends Error {
  /** The binding call that failed, e.g. `mlx_matmul`. */
  readonly operation: string;
  constructor(message: string, operation: string) {
    super(`${operation}: ${message}`);
    this.name = "MlxError";
    this.operation = operation;
  }
}
