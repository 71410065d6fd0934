import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';

import { WorkerConfig } from '../../config/worker-config';
import { TokenProvider } from './token.provider';

type AuthRequestConfig = InternalAxiosRequestConfig & { authRepeated?: boolean };

/**
 * Adds the bearer token to every backend request, and answers a 401 by
 * renewing the token and repeating the request once. Installed on the
 * backend's own axios instance (HttpModule.register), never the global one.
 */
@Injectable()
export class AuthInterceptor implements OnModuleInit {
  constructor(
    private readonly http: HttpService,
    private readonly tokens: TokenProvider,
    @Inject(WorkerConfig) private readonly config: WorkerConfig,
  ) {}

  onModuleInit(): void {
    const axios = this.http.axiosRef;
    axios.interceptors.request.use(async (config) => {
      config.headers.set('Authorization', `Bearer ${await this.tokens.token()}`);
      return config;
    });
    axios.interceptors.response.use(async (response: AxiosResponse) => {
      const config = response.config as AuthRequestConfig;
      if (response.status !== 401 || config.authRepeated) return response;
      const refused = String(config.headers.get('Authorization') ?? '').replace(/^Bearer /, '');
      this.tokens.invalidate(refused);
      // The renewed token first, then a fresh bound for the repeat (BACKEND_TIMEOUT_MS,
      // headers to last byte): the first request's bound has partly run, and the
      // renewal is the auth server's time, not the backend's. Backend requests carry
      // no other signal (BackendClient lets a PUT once sent finish).
      await this.tokens.token();
      const signal = AbortSignal.timeout(this.config.backend.timeoutMs);
      return axios.request({ ...config, authRepeated: true, signal } as AuthRequestConfig);
    });
  }
}
