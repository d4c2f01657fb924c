/** Storage failures are values, never exceptions: a full paging space must not unwind a pager. */
export type StorageErrorCode =
  | "STORAGE_FULL" // no paging file has a free page
  | "IO_ERROR" // the operating system refused a read or write
  | "NO_SUCH_FILE" // no paging file by that name
  | "FILE_IN_USE" // removal refused: pages live there and moving was not asked for
  | "FILE_EXISTS" // the paging file is already in use
  | "INVALID_ARGUMENT";

export interface StorageError {
  readonly code: StorageErrorCode;
  readonly message: string;
}

export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: StorageError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: StorageErrorCode, message: string): Result<T> {
  return { ok: false, error: { code, message } };
}
