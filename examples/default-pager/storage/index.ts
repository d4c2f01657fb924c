export { PageBitmap } from "./page-bitmap.js";
export { PageMap, type BlockAddress } from "./page-map.js";
export { PagingFile } from "./paging-file.js";
export {
  PagingStorage,
  DEFAULT_PAGE_SIZE,
  type StorageInfo,
  type PagingFileInfo,
  type AddFileOptions,
  type RemoveFileOptions,
} from "./paging-storage.js";
export { ok, fail, type Result, type StorageError, type StorageErrorCode } from "./result.js";
