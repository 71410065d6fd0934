import { Expose, Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsISO31661Alpha2,
  IsOptional,
  IsString,
  Length,
  Max,
  Min,
} from 'class-validator';

const MAX_APP_ID = 2 ** 31 - 1;
/** Countries a batch may name, as sent (CONTRACT.md §1). */
export const MAX_BATCH_COUNTRIES = 50;
/**
 * A hard cap on `appIds` before any item is looked at, so that a huge array
 * costs nothing; MAX_BATCH_APPS (at most this) is checked by the use case.
 */
export const APP_IDS_HARD_CAP = 100_000;

const upperCase = (value: unknown) => (typeof value === 'string' ? value.toUpperCase() : value);

/** Fields every task may carry. Only declared (@Expose) fields are read: unknown ones are ignored, however deep. */
export class TaskDto {
  @Expose()
  @IsOptional()
  @IsString()
  @Length(1, 128)
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
  @IsISO31661Alpha2()
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
  @IsISO31661Alpha2({ each: true })
  countries!: string[];
}
