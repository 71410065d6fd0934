import { Expose, Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsISO31661Alpha2,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
} from 'class-validator';

import { isValidTaskId } from './validate-task';

const MAX_APP_ID = 2 ** 31 - 1;
/** Countries a batch may name, as sent (docs/contract.md#queues-and-envelopes). */
export const MAX_BATCH_COUNTRIES = 50;
/**
 * A hard cap on `appIds` before any item is looked at, so that a huge array
 * costs nothing; MAX_BATCH_APPS (at most this) is checked by the use case.
 */
export const APP_IDS_HARD_CAP = 100_000;

/**
 * Upper-cases only two ASCII letters: `'ß'.toUpperCase()` is `'SS'` and `'ıt'` becomes
 * `'IT'`, both assigned codes. Anything else is left as sent, to fail validation.
 */
const upperCase = (value: unknown) =>
  typeof value === 'string' && /^[A-Za-z]{2}$/.test(value) ? value.toUpperCase() : value;
/**
 * Two ASCII capitals, checked before the ISO list because class-validator's
 * IsISO31661Alpha2 upper-cases its input itself (it takes `ß` for `SS`).
 */
const TWO_ASCII_LETTERS = /^[A-Z]{2}$/;
const COUNTRY = '$property must be an ISO 3166-1 alpha-2 code of two ASCII letters';
const COUNTRIES = 'each value in $property must be an ISO 3166-1 alpha-2 code of two ASCII letters';

/**
 * The one taskId rule (docs/contract.md#queues-and-envelopes), the same that decides whether a taskId
 * is echoed. Not `@Length`: class-validator's length skips U+FE0E/U+FE0F, so
 * `'❤️'` counts 1 there and 2 code points here.
 */
const IsTaskId = () =>
  ValidateBy(
    { name: 'isTaskId', validator: { validate: (value: unknown) => isValidTaskId(value) } },
    { message: '$property must be 1 to 128 Unicode code points' },
  );

/** Fields every task may carry. Only declared (@Expose) fields are read: unknown ones are ignored, however deep. */
export class TaskDto {
  @Expose()
  @IsOptional()
  @IsString()
  @IsTaskId()
  taskId?: string;
}

export class AppsListDto extends TaskDto {}

export class AppFetchDto extends TaskDto {
  @Expose()
  @IsInt()
  @Min(1)
  @Max(MAX_APP_ID)
  appId!: number;

  @Expose()
  @Transform(({ value }) => upperCase(value))
  @Matches(TWO_ASCII_LETTERS, { message: COUNTRY })
  @IsISO31661Alpha2({ message: COUNTRY })
  country!: string;
}

export class AppsFetchDto extends TaskDto {
  @Expose()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(APP_IDS_HARD_CAP)
  @IsInt({ each: true })
  @Min(1, { each: true })
  @Max(MAX_APP_ID, { each: true })
  appIds!: number[];

  @Expose()
  @Transform(({ value }) => (Array.isArray(value) ? value.map(upperCase) : value))
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_COUNTRIES)
  @Matches(TWO_ASCII_LETTERS, { each: true, message: COUNTRIES })
  @IsISO31661Alpha2({ each: true, message: COUNTRIES })
  countries!: string[];
}

/**
 * `since` is unix seconds (docs/contract.md#change-detection); absent, the
 * worker continues from its watermark. Capped at 2^53 − 1, where JSON numbers
 * stop being exact.
 */
export class AppsChangedDto extends TaskDto {
  @Expose()
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  since?: number;
}
