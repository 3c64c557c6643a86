// ferrosoup/cluster: rooms across hosts through Redis.
import type { types } from './index';

export type ClusterHost = { id: string; publicUrl?: string; load: number; at: number };

export type ClusterRoom = types.Router & {
	readonly routers: types.Router[];
	readonly hostId: string;
	/** Producers of the room on every host. */
	producers(): Promise<{ producerId: string; hostId: string }[]>;
	/** Other hosts this room has pipe transports with. */
	pipeHosts(): string[];
};

export interface Cluster {
	readonly hostId: string;
	readonly closed: boolean;
	publicUrl: string | undefined;
	hosts(): Promise<ClusterHost[]>;
	pickHost(): Promise<string | undefined>;
	createRoom(roomId: string, options?: { mediaCodecs?: types.RouterRtpCodecCapability[]; keyFrameCache?: types.KeyFrameCacheOptions | false }): Promise<ClusterRoom>;
	leave(): Promise<void>;
	on(event: 'hostgone', listener: (hostId: string) => void): this;
}

export declare function join(options: {
	redisUrl: string;
	workers: types.Worker[];
	listenInfo: { protocol?: 'udp'; ip: string; announcedAddress?: string };
	publicUrl?: string;
	hostId?: string;
	prefix?: string;
	heartbeatMs?: number;
	expiryMs?: number;
}): Promise<Cluster>;
