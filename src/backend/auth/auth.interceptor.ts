import { HttpService } from '@nestjs/axios';
import { Injectable, OnModuleInit } from '@nestjs/common';
import type { AxiosResponse, InternalAxiosRequestConfig } from 'axios';

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
      return axios.request({ ...config, authRepeated: true } as AuthRequestConfig);
    });
  }
}
